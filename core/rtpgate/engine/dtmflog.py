"""``--dtmf-log-dest``: each RFC 4733 DTMF event a party sends, as rtpengine's JSON, in a UDP
datagram to the configured address, when the event ends.

A pipeline factory: a stream gets the ``dtmf-log`` ingress stage only when the option is set
and its party negotiated telephone-event, so other streams stay on the fast path.  The stage
runs after SRTP decryption and before any media plugin's stages (it reads what the party sent),
never changes a packet, and reports an event once (RFC 4733 retransmits the end packet).

The JSON is rtpengine 10.5's (``daemon/dtmf.c``, checked against its datagrams): ``callid``,
``source_tag``, ``tags`` (every tag of the call), ``type`` ``"DTMF"``, ``timestamp`` (Unix
seconds), ``source_ip``, ``event``, ``duration`` (ms) and ``volume``; no ``source_label``, also
for a party with a label (newer rtpengines add one).
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from ..media.pipeline import Pipeline, Stage
from . import model as m

log = logging.getLogger("rtpgate.media")


class EventStage(Stage, Protocol):
    """An ingress stage that reads one stream's RFC 4733 events."""

    stream: m.Stream
    #: The telephone-event payload types it reads, with their clock rates.
    clocks: dict[int, int]


S = TypeVar("S", bound=EventStage)


def telephone_event_clocks(stream: m.Stream) -> dict[int, int]:
    """The telephone-event payload types negotiated on ``stream``'s media, with their clocks."""
    return {codec.pt: int(codec.encoding.split("/")[1])
            for codec in stream.media.sent_codecs
            if codec.encoding.lower().startswith("telephone-event/")
            and codec.encoding.split("/")[1].isdigit()}


def event_pipeline(stream: m.Stream, current: Pipeline | None, kind: type[S],
                   make: Callable[[dict[int, int]], S]) -> Pipeline | None:
    """A pipeline of one ``kind`` stage reading ``stream``'s events: the one ``current`` has
    when it reads the same payload types (so its state survives a relay sync), else
    ``make(clocks)``; None when the stream negotiated no telephone-event."""
    clocks = telephone_event_clocks(stream)
    if not clocks:
        return None
    if current is not None:
        for stage in current.ingress:
            if isinstance(stage, kind) and stage.stream is stream and stage.clocks == clocks:
                return Pipeline(ingress=(stage,))
    return Pipeline(ingress=(make(clocks),))


def parse_destination(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"not host:port: {text!r}")
    return host.strip("[]"), int(port)


class DtmfLog:
    """The factory; owns the UDP socket the events go out of (``--dtmf-log-dest``) and hands
    each event to its :attr:`listeners` too.  With neither, it adds no stage."""

    def __init__(self, destination: tuple[str, int] | None) -> None:
        self.destination = destination
        self.sock: socket.socket | None = None
        if destination is not None:
            family = socket.AF_INET6 if ":" in destination[0] else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
        #: More receivers of each event: a plugin's (the ng plugin's ``--dtmf-log-ng-tcp``
        #: sends it to the TCP ng clients).  Each gets the event's JSON fields as a dict.
        self.listeners: list[Callable[[dict[str, object]], None]] = []

    @property
    def active(self) -> bool:
        """Events go somewhere: the relay must read every party's RTP."""
        return self.sock is not None or bool(self.listeners)

    def __call__(self, stream: m.Stream, current: Pipeline | None) -> Pipeline | None:
        if stream.is_rtcp or not self.active:
            return None
        return event_pipeline(stream, current, DtmfLogStage,
                              lambda clocks: DtmfLogStage(self, stream, clocks))

    def send(self, event: dict[str, object]) -> None:
        if self.sock is not None and self.destination is not None:
            try:
                self.sock.sendto(json.dumps(event, separators=(",", ":")).encode(),
                                 self.destination)
            except OSError as exc:
                log.warning("DTMF log to %s:%d failed: %s", *self.destination, exc)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop the relay
                log.exception("DTMF event listener failed")

    def report(self, stream: m.Stream, event: int, volume: int, duration_ms: int) -> None:
        """One event the party of ``stream`` sent (also one a media plugin heard in-band, as
        rtpengine logs the events its DSP detects), to the UDP destination and the listeners."""
        if self.sock is None and not self.listeners:
            return
        ml = stream.media.monologue
        call = ml.call
        endpoint = stream.endpoint
        self.send({"callid": call.call_id, "source_tag": ml.tag,
                   "tags": [x.tag for x in call.monologues], "type": "DTMF",
                   "timestamp": int(time.time()),
                   "source_ip": endpoint.address if endpoint is not None else "",
                   "event": event, "duration": duration_ms, "volume": volume})

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


class DtmfLogStage:
    """Reports the telephone-events of one stream's party."""

    name = "dtmf-log"

    def __init__(self, log: DtmfLog, stream: m.Stream, clocks: dict[int, int]) -> None:
        self.error = False
        self.log = log
        self.stream = stream
        self.clocks = clocks
        self._last: int | None = None  # timestamp of the last event reported

    def rtp(self, data: bytes) -> bytes | None:
        pt = data[1] & 0x7F
        if pt not in self.clocks or len(data) < 16 or data[0] & 0x1F:
            return data  # (CSRCs and extensions are not expected on telephone-events)
        timestamp = int.from_bytes(data[4:8], "big")
        event, flags, duration = struct.unpack_from("!BBH", data, 12)
        if flags & 0x80 and timestamp != self._last:
            self._last = timestamp
            self._report(event, flags & 0x3F, duration * 1000 // self.clocks[pt])
        return data

    def rtcp(self, data: bytes) -> bytes | None:
        return data

    def _report(self, event: int, volume: int, duration_ms: int) -> None:
        self.log.report(self.stream, event, volume, duration_ms)
