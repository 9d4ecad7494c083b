"""What a recording knows about each recorded stream (numbered per recording, as rtpengine
numbers its packet streams for the recording daemon)."""

from __future__ import annotations

from dataclasses import dataclass

from rtpgate.api import MediaEndpoint, PacketCapture, Stream

from .pcap import Headers


@dataclass(slots=True, eq=False)
class StreamInfo:
    """One recorded stream: its number in this recording, where it receives, and the headers
    last built for its source (rebuilt when the party's address changes)."""

    number: int
    tag: int  #: the monologue's number in the call (rtpengine's ``unique_id``)
    media: int  #: the m= line, 1-based
    component: int
    rtcp: bool
    local: tuple[str, int]
    eth: bool
    source: MediaEndpoint | None = None
    headers: Headers | None = None
    #: the proc method's FIFO: its path and, once the daemon reads it, its descriptor
    path: str = ""
    fd: int | None = None
    #: the pcap method's view of its call's capture for this stream (native read loop)
    capture: PacketCapture | None = None

    @property
    def name(self) -> str:
        """rtpengine's name of the stream's kernel intercept file."""
        kind = "RTCP" if self.rtcp else "RTP"
        return (f"tag-{self.tag}-media-{self.media}-component-{self.component}-{kind}"
                f"-id-{self.number}")

    def headers_from(self, source: MediaEndpoint | None) -> Headers:
        """The packet headers for a packet from ``source`` (the stream's endpoint as the
        relay learned it; cached while it stays the same)."""
        if source is not self.source or self.headers is None:
            self.source = source
            address = (source.address, source.port) if source is not None else ("0.0.0.0", 0)
            self.headers = Headers(address, self.local, self.eth)
        return self.headers


def local_address(stream: Stream) -> tuple[str, int]:
    selected = stream.selected
    if selected is None:
        return ("0.0.0.0", 0)
    return (selected.local.address, selected.port)
