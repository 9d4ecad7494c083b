"""The transcoding stage of one direction of a media (see :mod:`rtpgate.media.pipeline`).

It runs on RTP received from one party: each payload type is passed on, transcoded
(:class:`~rtpgate_transcode.chain.CodecChain`) or dropped as its :class:`~rtpgate_transcode.
plan.DirectionPlan` says.  Everything leaving a transcoding direction goes out on one
:class:`~rtpgate_transcode.rtp.OutputStream` (one SSRC, continuous sequence numbers), also the
packets passed on.  RTCP from the party describes its own stream, which the peer never sees:
each sender report is replaced by a sender report of rtpgate's stream.

A pipeline stage returns one packet per packet it gets; when a chain has more than one ready
(an output ptime shorter than the input's), the rest wait for the next packets (at most
:data:`BACKLOG`; more are dropped and counted).
"""

from __future__ import annotations

import logging
from collections import deque

from rtpgate.media.pipeline import Stage

from . import formats
from .chain import CodecChain
from .plan import DirectionPlan
from .rtp import MalformedRtp, OutputStream, RtpPacket, parse

log = logging.getLogger("rtpgate.transcode")

BACKLOG = 8


class TranscodeStage:
    """One direction's codec chains, created when the plan asks for them."""

    name = "transcode"

    def __init__(self, plan: DirectionPlan) -> None:
        self.plan = plan
        self.error = False
        self._streams: dict[int, OutputStream] = {}
        self._chains: dict[int, CodecChain] = {}
        self._backlog: deque[bytes] = deque()
        #: Counted drops: undecodable or malformed packets, payload types nobody receives,
        #: packets that waited too long.
        self.malformed = 0
        self.dropped = 0
        self.overflow = 0

    def _stream(self, pt: int, clock: int) -> OutputStream:
        stream = next(iter(self._streams.values()), None)
        if stream is None:
            stream = OutputStream(pt, clock)
        out = self._streams.get(pt)
        if out is None:
            out = OutputStream(pt, clock)
            out.ssrc, out.seq = stream.ssrc, stream.seq
            self._streams[pt] = out
        return out

    def _chain(self, pt: int) -> CodecChain | None:
        chain = self._chains.get(pt)
        if chain is not None:
            return chain
        route = self.plan.routes[pt]
        source = formats.find(route.source.encoding)
        assert route.target is not None
        target = formats.find(route.target.encoding)
        if source is None or target is None:
            return None
        stream = self._stream(route.target.pt, target.clock)
        chain = CodecChain(source, route.source.fmtp, target, route.target.fmtp, stream,
                           self.plan.ptime)
        self._chains[pt] = chain
        return chain

    def rtp(self, data: bytes) -> bytes | None:
        self.error = False
        pt = data[1] & 0x7F
        route = self.plan.routes.get(pt)
        if route is None or route.action == "drop":
            self.dropped += 1
            return self._next()
        if route.action == "pass" and not self._chains:
            assert route.target is not None
            return data if route.target.pt == pt else data[:1] + bytes(
                [(data[1] & 0x80) | route.target.pt]) + data[2:]
        try:
            packet = parse(data)
        except MalformedRtp:
            return self._bad()
        if route.action == "pass":
            assert route.target is not None
            return self._passed(packet, route.target.pt)
        chain = self._chain(pt)
        if chain is None:
            return self._bad()
        errors = chain.errors
        self._backlog.extend(chain.process(packet))
        if chain.errors != errors:  # not decodable: an ingress error of the stream
            self.malformed += 1
            self.error = not self._backlog
        while len(self._backlog) > BACKLOG:
            self._backlog.popleft()
            self.overflow += 1
        return self._next()

    def _passed(self, packet: RtpPacket, pt: int) -> bytes:
        """A packet passed on in a transcoding direction: on rtpgate's stream too."""
        chain = next(iter(self._chains.values()))
        stream = chain.stream
        ticks = (packet.timestamp - (chain._origin or 0)) & 0xFFFFFFFF
        saved = stream.pt
        stream.pt = pt
        try:
            return stream.packet(ticks, packet.payload, packet.marker)
        finally:
            stream.pt = saved

    def _bad(self) -> bytes | None:
        self.malformed += 1
        self.error = True
        return None

    def _next(self) -> bytes | None:
        return self._backlog.popleft() if self._backlog else None

    def rtcp(self, data: bytes) -> bytes | None:
        """A sender report of rtpgate's stream instead of the party's own."""
        self.error = False
        stream = next(iter(self._streams.values()), None)
        if stream is None or stream.packets == 0:
            return data
        return stream.sender_report()


_: type[Stage] = TranscodeStage  # checks that the stage fits the pipeline's protocol
