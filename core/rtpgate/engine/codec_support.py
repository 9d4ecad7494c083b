"""Which codecs the media pipeline can decode and encode: what codec negotiation may promise.

The engine never transcodes by itself.  A media plugin (a transcoder, say) declares through
the ``rtpgate_media_codecs`` hook the codecs its stages can decode and encode, as
:class:`CodecCapability` values; the offer logic adds a ``codec-transcode`` codec only when it
can be both decoded and encoded (it is sent to one side and received from it), and picks a
transcoding target on the offerer's side only among codecs it can encode.  A codec that can
only be decoded (GSM, iLBC, G.729, AMR-WB with FFmpeg) can be received from a party, never
offered as something rtpgate sends.  With no media plugin installed the registry is empty and
anything that would need transcoding is refused, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CodecCapability:
    """One codec a media plugin handles, named as in an ``a=rtpmap`` line."""

    name: str  #: encoding name (``opus``, ``PCMA``, ``telephone-event``)
    clock: int  #: RTP clock rate
    channels: int = 1
    decode: bool = True
    encode: bool = True
    #: ``a=fmtp`` rtpgate writes when it adds this codec to an offer.
    fmtp: str = ""

    @property
    def encoding(self) -> str:
        """The rtpmap text (``opus/48000/2``; one channel is left out, as rtpengine does)."""
        base = f"{self.name}/{self.clock}"
        return f"{base}/{self.channels}" if self.channels != 1 else base


class CodecSupport:
    """The codecs of every media plugin, looked up by name, clock rate and channels."""

    def __init__(self, capabilities: Iterable[CodecCapability] = ()) -> None:
        self._caps: list[CodecCapability] = list(capabilities)

    def __bool__(self) -> bool:
        return bool(self._caps)

    def add(self, capabilities: Iterable[CodecCapability]) -> None:
        self._caps.extend(capabilities)

    def find(self, name: str, clock: int | None = None, channels: int | None = None
             ) -> CodecCapability | None:
        """The best match: a given clock rate and channel count must match; when they are not
        given, the first declared variant wins (``opus`` -> ``opus/48000/2``)."""
        lname = name.lower()
        for cap in self._caps:
            if cap.name.lower() != lname:
                continue
            if clock is not None and cap.clock != clock:
                continue
            if channels is not None and cap.channels != channels:
                continue
            return cap
        return None

    def can_decode(self, encoding: str) -> bool:
        cap = self._of(encoding)
        return cap is not None and cap.decode

    def can_transcode(self, encoding: str) -> bool:
        """Both directions: decode what the party sends, encode what it receives."""
        cap = self._of(encoding)
        return cap is not None and cap.decode and cap.encode

    def _of(self, encoding: str) -> CodecCapability | None:
        parts = encoding.split("/")
        if len(parts) < 2 or not parts[1].isdigit():
            return None
        channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
        return self.find(parts[0], int(parts[1]), channels)
