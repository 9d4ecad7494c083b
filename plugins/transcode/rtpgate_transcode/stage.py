"""The transcoding stage of one direction of a media (see :mod:`rtpgate.media.pipeline`).

It runs on RTP received from one party: each payload type is passed on, transcoded
(:class:`~rtpgate_transcode.chain.CodecChain`) or dropped as its :class:`~rtpgate_transcode.
plan.DirectionPlan` says.  Everything leaving a transcoding direction goes out on one
:class:`~rtpgate_transcode.rtp.OutputStream` (one SSRC, continuous sequence numbers), also the
packets passed on.  RTCP from the party describes its own stream, which the peer never sees:
each sender report is replaced by a sender report of rtpgate's stream.

DTMF where only one side has telephone-event (and the engine reports the media as transcoding):
an RFC 4733 event from the sender is played as its tone in the audio towards the receiver, the
sender's own audio dropped meanwhile; digits heard in the sender's audio (Goertzel, see
:mod:`~rtpgate_transcode.dtmf`) replace its packets by RFC 4733 events, one per packet, the
last with the end bit. Where the receiver has telephone-event at another clock rate only
(telephone-event/48000 beside an added opus), the sender's events are translated: the
timestamp of their audio on rtpgate's stream, the duration scaled, the receiver's payload type.

Sequence numbers and timestamps follow the sender's, as rtpengine's (its ``seq_diff`` and
``first_ts``): a packet made from the sender's packet N goes out as N plus a difference that
grows by one for each packet made and shrinks by one for each packet taken in (so a packet in,
a packet out keeps the sender's numbers; a packet dropped, or two made of one, moves them on
contiguously); a new sender SSRC, or a jump back or of more than 256, moves the difference so
that the output stays contiguous. Timestamps start at the sender's first (the audio's position
scaled to the output clock from there). Transcoded audio has no marker bit. With
``--dtx-delay`` a packet is numbered when the DTX buffer's timer takes it, and a packet time
the timer fills stands for the sender's next sequence number.

A pipeline stage returns one packet per packet it gets; when a chain has more than one ready
(an output ptime shorter than the input's: 30 ms in, 20 or 10 ms out), the first is returned
and the rest are sent one output ptime apart from the peer's relay stream (through its egress
stages, so SRTP applies; media control such as ``block media`` is checked on the packet the
stage returns, not on these).  Without a way to send them (a stage made without the runtime)
they wait for the next packets.  At most :data:`BACKLOG` wait beyond what one encoder frame
makes (G.726's encoder gives 205-512 ms at once); more are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable

from rtpgate.api import Stage

from . import dtmf, formats
from .amr_modes import CodecOptions, ModeRequest
from .chain import CodecChain
from .cn import CnSettings
from .dtx import DtxBuffer, Held
from .plan import DirectionPlan, Route, clock
from .rtp import MalformedRtp, OutputStream, RtpPacket, parse

log = logging.getLogger("rtpgate.transcode")

BACKLOG = 8


class TranscodeStage:
    """One direction's codec chains, created when the plan asks for them."""

    name = "transcode"
    #: Sends a packet the stage made to the peer (False: it could not).
    Send = Callable[[bytes, "TranscodeStage"], bool]

    def __init__(self, plan: DirectionPlan, send: Send | None = None,
                 cn: CnSettings | None = None,
                 requests: tuple[ModeRequest, ModeRequest] | None = None) -> None:
        """``requests``: the AMR mode requests of the sender (kept here) and of the receiver
        (followed by the encoder towards it)."""
        self.plan = plan
        self._requests = requests or (ModeRequest(), ModeRequest())
        self.error = False
        self._send = send
        #: Told (event, duration in ms) of each digit heard in-band, when it ends.
        self.heard_digit: Callable[[int, int], None] | None = None
        self._cn = cn or CnSettings()
        self._timer: asyncio.TimerHandle | None = None
        #: DTX (``--dtx-delay``): the timer, the chain that last had audio and when
        self._dtx: DtxBuffer[tuple[str, RtpPacket]] | None = None
        self._dtx_chain: CodecChain | None = None
        self._streams: dict[int, OutputStream] = {}
        #: The SSRC of everything this direction sends, passed on or made (rtpengine maps
        #: the sender's SSRC where it transcodes, its pass-through packets included)
        self._ssrc = secrets.randbits(32)
        self._ssrc_bytes = self._ssrc.to_bytes(4, "big")
        #: rtpengine's sequencing (see the module): the difference, the sender's last (SSRC,
        #: sequence number), the output's first sequence number for the packet being taken in,
        #: and the sender's first timestamp (None: nothing taken in yet).
        self._seq_diff = 0
        self._last_in: tuple[int, int] | None = None
        self._seq_start: int | None = None
        self._first_ts: int | None = None
        self._chains: dict[int, CodecChain] = {}
        self._backlog: deque[bytes] = deque()
        #: Audio to use in place of a packet's (by sequence number: s16 mono at the source's
        #: rate), put here by the delay buffer where it replaced a digit (:mod:`.delay`), so
        #: the replacement is encoded once, in the receiver's codec.
        self.linear: dict[int, bytes] = {}
        #: RFC 4733 event being played in-band: (its timestamp, ticks made so far, ended)
        self._event: tuple[int, int, bool] | None = None
        #: digit heard in-band and sent as events: (event, output ticks at its start, ticks)
        self._heard: tuple[int, int, int] | None = None
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
            out.ssrc, out.seq = self._ssrc, stream.seq
            if self._seq_start is not None:
                out.seq = self._seq_start
            if self._first_ts is not None:
                out.ts_base = out.last_ts = self._first_ts
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
                           self.plan.ptime, detect_dtmf=self.plan.dtmf_out is not None,
                           bitrate=self.plan.bitrate(route.target),
                           heard=self._requests[0], asked=self._requests[1],
                           options=CodecOptions.parse(self.plan.codec_options(route.source)))
        cn = next((c for c in self.plan.cn_out if c.encoding.split("/")[1:2]
                   == [str(target.clock)]), None)
        if cn is not None and self._cn.silence:
            chain.send_cn_for_silence(cn.pt, self._cn.cn_payload, self._cn.silence)
        if self._cn.amr_dtx_cn:
            chain.replace_sid(self._cn.dtx_noise or None)
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
            if len(data) < 12:
                return self._bad()
            return data[:1] + bytes([(data[1] & 0x80) | route.target.pt]) + data[2:8] + (
                self._ssrc_bytes + data[12:])
        try:
            packet = parse(data)
        except MalformedRtp:
            return self._bad()
        if self._cn.dtx_delay_ms and self._send is not None:
            return self._route(packet, route, pt)  # numbered when its turn comes (_take)
        self._follow(packet)
        try:
            return self._route(packet, route, pt)
        finally:
            self._end(packet.seq)

    def _follow(self, packet: RtpPacket) -> None:
        """Before ``packet`` is taken in: the output's sequence number for what it makes."""
        if self._first_ts is None:
            self._first_ts = packet.timestamp
        last = self._last_in
        start = (packet.seq + self._seq_diff) & 0xFFFF
        if last is not None and (last[0] != packet.ssrc
                                 or not 0 < (packet.seq - last[1]) & 0xFFFF <= 0x100):
            start = self._next_seq(start)  # a new stream or a jump: carry on contiguously
        self._last_in = (packet.ssrc, packet.seq)
        self._begin(start)

    def _begin(self, start: int) -> None:
        self._seq_start = start
        for stream in self._streams.values():
            stream.seq = start

    def _next_seq(self, default: int) -> int:
        """The sequence number the output would use next (``default`` before any)."""
        stream = next(iter(self._streams.values()), None)
        return stream.seq if stream is not None and stream.packets else default

    def _end(self, last_seq: int) -> None:
        """After the sender's packet ``last_seq`` was taken in: the difference moved by what
        it made, less one."""
        start = self._seq_start
        self._seq_start = None
        if start is None:
            return
        made = max(((stream.seq - start) & 0xFFFF for stream in self._streams.values()),
                   default=0)
        following = (start + made) & 0xFFFF
        for stream in self._streams.values():
            stream.seq = following
        self._seq_diff = (following - last_seq - 1) & 0xFFFF

    def _route(self, packet: RtpPacket, route: Route, pt: int) -> bytes | None:
        """``packet`` (parsed) passed on, translated, held, played or transcoded."""
        if route.action == "pass":
            assert route.target is not None
            return self._passed(packet, route.target.pt)
        if route.action == "event":
            return self._translated(packet, route)
        if route.action in ("transcode", "cn", "tone") and self._hold(route.action, packet):
            return None  # in the DTX buffer: sent when its turn comes
        if route.action == "tone":
            self._tone(packet)
            return self._next()
        if route.action == "cn":
            self._comfort_noise(packet)
            return self._next()
        if self._chain(pt) is None:
            return self._bad()
        self._transcode(packet)
        return self._next()

    def _transcode(self, packet: RtpPacket) -> int:
        """Decode and encode one packet of audio into the backlog; its duration in ms."""
        if self._event is not None and not self._event[2]:
            return 0  # the sender's audio under an event played in-band
        chain = self._chain(packet.pt)
        if chain is None:
            self.malformed += 1
            return 0
        errors = chain.errors
        produced = chain.process(packet, self.linear.pop(packet.seq, None))
        self._dtx_chain = chain
        if chain.detector is not None and self.plan.dtmf_out is not None:
            produced = [self._as_event(chain, p) for p in produced]
        self._backlog.extend(produced)
        if chain.errors != errors:  # not decodable: an ingress error of the stream
            self.malformed += 1
            self.error = not self._backlog
            return 0
        while len(self._backlog) > BACKLOG + chain.burst:
            self._backlog.popleft()
            self.overflow += 1
        return chain.last_samples * 1000 // chain.source.rate

    def _hold(self, action: str, packet: RtpPacket) -> bool:
        """With ``--dtx-delay``: the packet goes into the DTX buffer (True), made on first
        use; the buffer's timer has it processed (:meth:`_take`) or fills its gap."""
        if not self._cn.dtx_delay_ms or self._send is None:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a test driving the stage by hand
            return False
        if self._dtx is None:
            route = self.plan.routes[packet.pt]
            source = formats.find(route.source.encoding)
            clock = source.clock if source is not None else 8000
            self._dtx = DtxBuffer(self._cn.dtx, clock, self.plan.in_ptime, self._take,
                                  self._fill)
        self._dtx.hold(Held(packet.timestamp, loop.time(), (action, packet),
                            static=action == "tone"), loop)
        return True

    def _take(self, item: tuple[str, RtpPacket]) -> int:
        """A packet whose turn came in the DTX buffer: processed, and what it made sent."""
        action, packet = item
        ms = 0
        self._follow(packet)
        if action == "tone":
            self._tone(packet)
        elif action == "cn":
            self._comfort_noise(packet)
        else:
            ms = self._transcode(packet)
        self._end(packet.seq)
        self._release()
        return ms

    def _fill(self, timestamp: int, ms: int) -> None:
        """A gap in the DTX buffer: ``ms`` of audio at the input ``timestamp``; from an AMR
        decoder itself (``--amr-dtx=native``), else silence or ``--dtx-cn-params`` noise."""
        chain = self._dtx_chain
        if chain is None:
            return
        last = self._last_in
        if last is not None:  # numbered as the sender's next packet, which it stands for
            seq = (last[1] + 1) & 0xFFFF
            self._last_in = (last[0], seq)
            self._begin(self._next_seq((seq + self._seq_diff) & 0xFFFF))
        if chain.amr_in and not self._cn.amr_dtx_cn:
            self._backlog.extend(chain.conceal(timestamp, ms))
        else:
            self._backlog.extend(chain.noise(timestamp, self._cn.dtx_noise or None, ms))
        if last is not None:
            self._end((last[1] + 1) & 0xFFFF)
        self._release()

    def _release(self) -> None:
        """Send the first packet made, now (the rest are paced, :meth:`_next`).  When the
        peer's stream is gone, the DTX buffer stops too."""
        out = self._next()
        if out is not None and self._send is not None and not self._send(out, self):
            self._backlog.clear()
            if self._dtx is not None:
                self._dtx.close()

    def _comfort_noise(self, packet: RtpPacket) -> None:
        """A CN packet from the sender, for a receiver without CN: a packet time of the noise
        it describes, in the receiver's codec."""
        chain = self._audio_chain()
        if chain is None or not packet.payload:
            self.dropped += 1
            return
        self._backlog.extend(chain.noise(packet.timestamp, packet.payload))
        self._dtx_chain = chain  # a DTX gap after it is filled by this chain

    def _audio_chain(self) -> CodecChain | None:
        for pt, route in self.plan.routes.items():
            if route.action == "transcode":
                return self._chain(pt)
        return None

    def _tone(self, packet: RtpPacket) -> None:
        """An RFC 4733 event from the sender, for a receiver without telephone-event: its
        tone goes into the audio in place of the sender's (RFC 4733 2.5: the same timestamp
        for one event, the duration growing; retransmitted end packets change nothing)."""
        try:
            event, end, volume, duration = dtmf.parse_event(packet.payload)
        except ValueError:
            self.malformed += 1
            return
        chain = self._audio_chain()
        if chain is None or event not in dtmf.DIGITS:
            self.dropped += 1
            return
        current = self._event
        done = current[1] if current is not None and current[0] == packet.timestamp else 0
        if current is not None and current[0] == packet.timestamp and current[2]:
            return
        if duration > done:
            self._backlog.extend(chain.inject((packet.timestamp + done) & 0xFFFFFFFF,
                                              duration - done, done, event, volume))
        self._event = (packet.timestamp, max(duration, done), end)

    def _as_event(self, chain: CodecChain, data: bytes) -> bytes:
        """While a digit is heard in the sender's audio, its packets become RFC 4733 events
        for the receiver (the end is sent once, with the last duration)."""
        assert chain.detector is not None and self.plan.dtmf_out is not None
        digit = chain.detector.digit
        heard = self._heard
        if digit is None and heard is None:
            return data
        stream = chain.stream
        ticks = (int.from_bytes(data[4:8], "big") - stream.ts_base) & 0xFFFFFFFF
        step = chain.out.ticks(chain.out.samples(self.plan.ptime))
        if heard is None or (digit is not None and digit != heard[0]):
            assert digit is not None
            heard = (digit, ticks, 0)
        duration = heard[2] + step
        end = digit is None or digit != heard[0]
        payload = dtmf.event_payload(heard[0], end, 10, duration)
        if end and self.heard_digit is not None:  # the DTMF log (rtpengine logs DSP digits)
            self.heard_digit(heard[0], duration * 1000 // chain.out.clock)
        self._heard = None if end else (heard[0], heard[1], duration)
        seq = int.from_bytes(data[2:4], "big")
        header = bytes([0x80, (0x80 if duration == step else 0) | self.plan.dtmf_out.pt])
        return header + seq.to_bytes(2, "big") + ((stream.ts_base + heard[1]) & 0xFFFFFFFF
                                                  ).to_bytes(4, "big") + data[8:12] + payload

    def _translated(self, packet: RtpPacket, route: Route) -> bytes | None:
        """An RFC 4733 event for a receiver whose telephone-event has another clock rate
        (8000 and 48000): on rtpgate's stream at the timestamp of the audio it goes with, its
        duration scaled to the receiver's clock (at most 0xFFFF: 1.36 s at 48000), the
        receiver's payload type."""
        assert route.target is not None
        chain = self._audio_chain()
        if chain is None:  # no audio transcoded in this direction: nothing to time it by
            self.dropped += 1
            return self._next()
        try:
            event, end, volume, duration = dtmf.parse_event(packet.payload)
        except ValueError:
            return self._bad()
        scaled = duration * clock(route.target) // max(1, clock(route.source))
        return chain.stream.packet(chain.out_ticks(packet.timestamp),
                                   dtmf.event_payload(event, end, volume, scaled),
                                   packet.marker, pt=route.target.pt)

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
        if not self._backlog:
            return None
        out = self._backlog.popleft()
        if self._backlog and self._send is not None and self._timer is None:
            self._schedule()
        return out

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop (a test driving the stage by hand)
            return
        self._timer = loop.call_later(self.plan.ptime / 1000, self._flush)

    def _flush(self) -> None:
        """One waiting packet out, one output ptime after the last."""
        self._timer = None
        if not self._backlog or self._send is None:
            return
        if not self._send(self._backlog.popleft(), self):
            self._backlog.clear()  # the peer's stream went: nothing to pace any more
            return
        if self._backlog:
            self._schedule()

    def close(self) -> None:
        """Stop pacing (the stage is replaced or its media goes)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        if self._dtx is not None:
            self._dtx.close()
        self._dtx_chain = None
        self._backlog.clear()

    def rtcp(self, data: bytes) -> bytes | None:
        """A sender report of rtpgate's stream instead of the party's own."""
        self.error = False
        stream = next(iter(self._streams.values()), None)
        if stream is None or stream.packets == 0:
            return data
        return stream.sender_report()


_: type[Stage] = TranscodeStage  # checks that the stage fits the pipeline's protocol
