"""One relayed media stream: what arrives on it, where it goes, and what was counted.

A :class:`RelayStream` is the relay's side of one of the engine's packet streams (one RTP or one
RTCP component of one party's media).  Its socket is the local port that was advertised to that
party: the party sends to it, and the relay sends to the party *from* it (sockets of the
stream's other local addresses, if any, are read too).  A packet received on
stream ``X`` is sent from ``X.sink``'s socket to ``X.sink.endpoint`` (RTCP demultiplexed on an
rtcp-mux port goes to ``X.rtcp_sink``).

Endpoint learning is rtpengine's (``media_packet_address_check`` in ``daemon/media_socket.c``):

* A stream starts at the address the party's SDP (or ``received-from``) gave (:meth:`fill`).
  Until it has one, its packets are forwarded without learning anything from them.
* ``delayed`` (the default): during the first 3 s after the call's last signal (:meth:`signal`)
  each new source becomes the endpoint; the first packet after that confirms its source as the
  endpoint for good.  ``immediate`` confirms the first source at once; ``off`` and
  ``asymmetric`` never learn (media goes to the SDP address); ``heuristic`` prefers, among the
  sources seen since the last signal, the one that matches the SDP address best.
* Once confirmed, a packet from another source is forwarded as usual, unless the stream has
  ``media handover`` (the new source becomes the endpoint) or ``strict source`` (it is dropped
  and counted as an ingress error).

The read handler is the hot path: one ``recvfrom`` per wake-up when the port is quiet, up to
:data:`BATCH` when it is busy (the previous wake-up less than :data:`BUSY_GAP` ago).  A quiet
port thus never pays for the ``EAGAIN`` that ends a batch, and a flooded port gets at most
``BATCH`` packets per event-loop iteration, so it cannot starve the others.
"""

from __future__ import annotations

import enum
import logging
import math
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..counters import InterfaceStats, Traffic
from . import ice
from .outcontext import OutputContext
from .packet import RTCP_HEADER, RTP_HEADER, is_dtls, is_stun
from .pipeline import Pipeline, Stage
from .rtcp import ReportBlock, remember, report_blocks

if TYPE_CHECKING:
    from .control import MediaControl
    from .relay import Relay

log = logging.getLogger("rtpgate.media")

Address = tuple[str, int]
RecvFrom = Callable[[int], tuple[bytes, tuple[str, int]]]
#: What :meth:`RelayStream._native_route` gives the native reader (its C code parses it).
NativeRoute = tuple[object, ...]


class Counters(Protocol):
    """Packets, bytes and errors (:class:`rtpgate.counters.Traffic` or the engine's own)."""

    packets: int
    bytes: int
    errors: int


class Activity(Protocol):
    """What the relay stamps with the time of each packet (the engine's stream, whose
    timers read ``last_packet``)."""

    last_packet: float

#: Largest datagram read; longer ones are truncated by the kernel and dropped as malformed.
RECV_SIZE = 4096
#: Packets read per wake-up from a busy port.
BATCH = 32
#: A port woken again within this many seconds counts as busy.
BUSY_GAP = 0.0005
#: rtpengine's delay after the last signal before an endpoint is confirmed (``delayed``).
LEARNING_DELAY = 3.0
#: SSRCs remembered per stream; more are counted but not listed (a hostile sender could send a
#: new one in every packet).
MAX_SSRCS = 32


class Learning(enum.Enum):
    """rtpengine's ``endpoint-learning`` modes."""

    OFF = "off"
    IMMEDIATE = "immediate"
    DELAYED = "delayed"
    HEURISTIC = "heuristic"


class Drops:
    """Why received datagrams were not forwarded (each also counted in ``stats_in.errors``,
    except ``blocked``, which media control dropped on purpose)."""

    __slots__ = ("blocked", "malformed", "recv_errors", "stages", "strict_source",
                 "stun_rejected", "unrouted")

    def __init__(self) -> None:
        self.malformed = 0  #: not RTP/RTCP (too short, wrong version, DTLS, stray STUN)
        self.strict_source = 0  #: from another source than the confirmed endpoint
        self.unrouted = 0  #: no sink, or the sink's endpoint is not known yet
        self.stun_rejected = 0  #: STUN with wrong or missing credentials, or malformed
        self.recv_errors = 0  #: the socket reported an error when read
        self.blocked = 0  #: block media / block DTMF / unsilenceable under silence media
        #: dropped by a pipeline stage, by the stage's name (errors only where the stage said
        #: the packet was bad, e.g. SRTP authentication)
        self.stages: dict[str, int] = {}


def _address(source: tuple[str, int] | tuple[str, int, int, int]) -> Address:
    return (source[0], source[1])


def _native_stage(stages: tuple[Stage, ...]) -> tuple[Stage | None, int, int] | None:
    """``(stage, session, function)`` for the native reader: no stage, or one whose work is
    a libsrtp call it names by address (an SRTP stage's ``native``); ``None`` otherwise."""
    if not stages:
        return (None, 0, 0)
    native: tuple[int, int] | None = getattr(stages[0], "native", None)
    if native is None:
        return None
    return (stages[0], *native)


class RelayStream:
    """The relay's state for one media stream.  Created by :meth:`Relay.open`."""

    __slots__ = (
        "_detected", "_egress", "_ingress", "_last_ssrc", "_last_wake", "_relay", "_relayed",
        "_sendto", "advertised", "asymmetric", "confirmed", "context", "control", "drops",
        "endpoint",
        "fanout", "fds", "ice", "interface", "last_packet", "learned", "learning", "local",
        "media_handover", "on_learned", "owner", "pipeline", "rtcp", "rtcp_fanout", "rtcp_mux",
        "rtcp_reports", "rtcp_sink", "signalled",
        "sink", "sock", "ssrcs", "stats_in", "stats_out", "strict_source", "stun_answered",
    )

    def __init__(self, relay: Relay, sock: socket.socket, interface: tuple[str, str],
                 counters: InterfaceStats, relayed: Traffic, rtcp: bool,
                 stats_in: Counters | None, stats_out: Counters | None,
                 owner: Activity | None, local: tuple[str, int] | tuple[str, int, int, int]
                 ) -> None:
        self._relay: Relay | None = relay
        #: The socket packets for this party are sent from (the one advertised to it).
        self.sock = sock
        #: Descriptors of every socket this stream reads (``sock`` first).
        self.fds: list[int] = []
        self.local: Address = _address(local)
        self.interface = interface
        #: An RTCP-only port (the RTP port + 1 without rtcp-mux).
        self.rtcp = rtcp
        #: RTCP may arrive on this RTP port too (RFC 5761), and goes to ``rtcp_sink``.
        self.rtcp_mux = False
        #: The party's address from the SDP / received-from (rtpengine's "advertised endpoint").
        self.advertised: Address | None = None
        #: Where packets for this party are sent (starts as ``advertised``, then learned).
        self.endpoint: Address | None = None
        self.learned: Address | None = None
        self.confirmed = False
        #: Called when learning changed :attr:`endpoint` or :attr:`confirmed` (so the engine's
        #: stream can show them).
        self.on_learned: Callable[[RelayStream], None] | None = None
        self.learning = Learning.DELAYED
        self.asymmetric = False
        self.strict_source = False
        self.media_handover = False
        #: ``time.time()`` of the call's last offer/answer (starts the learning window).
        self.signalled = 0.0
        self.sink: RelayStream | None = None
        self.rtcp_sink: RelayStream | None = None
        #: Publish/subscribe: the subscribers' streams that get a copy of what is relayed
        #: (``rtcp_fanout``: of RTCP demultiplexed on an rtcp-mux RTP port).
        self.fanout: tuple[RelayStream, ...] = ()
        self.rtcp_fanout: tuple[RelayStream, ...] = ()
        #: A subscriber's own SSRC/sequence/timestamp space (:mod:`.outcontext`), applied to
        #: what a source's fan-out sends it (its RTCP stream shares its RTP stream's).
        self.context: OutputContext | None = None
        self.control: MediaControl | None = None
        self.ice: ice.IceCredentials | None = None
        #: Stages and STUN/DTLS handlers (``None``: a plain stream, the fast path).
        self.pipeline: Pipeline | None = None
        #: Received on this stream's sockets / sent from its socket.
        self.stats_in: Counters = Traffic() if stats_in is None else stats_in
        self.stats_out: Counters = Traffic() if stats_out is None else stats_out
        #: ``time.time()`` of the last RTP/RTCP packet received (or of :meth:`fill`), kept on
        #: ``owner`` (this stream unless the engine gave its own).
        self.last_packet = 0.0
        self.owner: Activity = self if owner is None else owner
        #: SSRCs seen in received packets, in order of appearance (at most :data:`MAX_SSRCS`).
        self.ssrcs: list[int] = []
        #: The newest RTCP report block per reported SSRC received here (:mod:`.rtcp`).
        self.rtcp_reports: dict[int, ReportBlock] = {}
        self.drops = Drops()
        self.stun_answered = 0
        self._detected: list[Address | None] = [None] * 4
        self._last_ssrc = b""
        self._last_wake = 0.0
        self._sendto = sock.sendto
        self._ingress = counters.ingress
        self._egress = counters.egress
        self._relayed = relayed

    def __repr__(self) -> str:
        kind = "RTCP" if self.rtcp else "RTP"
        return f"<RelayStream {kind} {self.local[0]}:{self.local[1]} -> {self.endpoint}>"

    # ------------------------------------------------------------------ engine API

    def fill(self, address: Address | None) -> None:
        """The party's address from signalling (SDP ``c=``/``m=``, or ``received-from``).
        An unchanged address changes nothing; a new one becomes the endpoint and learning
        starts over.  (The engine stamps ``last_packet`` at each signal, as rtpengine's
        ``__fill_stream`` does, so that timeouts count from the signal.)"""
        if address == self.advertised:
            return
        self.advertised = address
        self.endpoint = address
        self.learned = None
        self.confirmed = False

    def signal(self, when: float | None = None) -> None:
        """The call was signalled at ``when`` (offer, answer; default now): restarts the
        learning window."""
        when = time.time() if when is None else when
        if when != self.signalled:
            self.signalled = when
            self._detected = [None] * 4

    def configure(self, *, asymmetric: bool | None = None, strict_source: bool | None = None,
                  media_handover: bool | None = None, learning: Learning | None = None,
                  rtcp_mux: bool | None = None) -> None:
        """Set the flags given (``None`` leaves one as it is)."""
        if asymmetric is not None:
            self.asymmetric = asymmetric
        if strict_source is not None:
            self.strict_source = strict_source
        if media_handover is not None:
            self.media_handover = media_handover
        if learning is not None:
            self.learning = learning
        if rtcp_mux is not None:
            self.rtcp_mux = rtcp_mux

    def link(self, sink: RelayStream | None, rtcp_sink: RelayStream | None = None) -> None:
        """Where received packets go: RTP (or, on an RTCP port, RTCP) to ``sink``; RTCP
        demultiplexed on an rtcp-mux RTP port to ``rtcp_sink``."""
        self.sink = sink
        self.rtcp_sink = rtcp_sink

    def fan_out(self, sinks: tuple[RelayStream, ...],
                rtcp_sinks: tuple[RelayStream, ...] = ()) -> None:
        """Publish/subscribe: besides ``sink``, send a copy of every packet relayed from here
        to each of ``sinks`` (RTCP demultiplexed on an rtcp-mux port: to ``rtcp_sinks``), each
        through that subscriber's own egress stages."""
        self.fanout = sinks
        self.rtcp_fanout = rtcp_sinks

    def set_control(self, control: MediaControl | None) -> None:
        """Media control for RTP received here (``None``: forward unchanged)."""
        self.control = control

    def set_ice(self, credentials: ice.IceCredentials | None) -> None:
        """Answer STUN binding requests with these credentials (``None``: ICE off)."""
        self.ice = credentials

    def set_pipeline(self, pipeline: Pipeline | None) -> None:
        """Stages and handlers for this stream (``None`` or an empty pipeline: plain relay).
        Ingress stages run on what this stream receives, egress stages on what is sent from
        it to its party (:mod:`rtpgate.media.pipeline`)."""
        self.pipeline = None if pipeline is None or pipeline.empty else pipeline

    def send_to(self, data: bytes, address: Address) -> bool:
        """Send ``data`` from this stream's socket (a STUN/DTLS handler's replies); counted as
        egress.  False if the socket refused it."""
        try:
            self._sendto(data, address)
        except OSError as exc:
            self._send_failed(exc)
            return False
        size = len(data)
        self.stats_out.packets += 1
        self.stats_out.bytes += size
        self._egress.packets += 1
        self._egress.bytes += size
        return True

    def send_made(self, data: bytes, after: Stage) -> bool:
        """Send an RTP packet rtpgate made (a media player, the egress stage ``after``) to the
        party: through this stream's egress stages that follow ``after`` (SRTP encryption),
        counted as egress.  False when there is no endpoint yet or a stage dropped it."""
        if self.endpoint is None or self._relay is None:
            return False
        stages = self.pipeline.egress if self.pipeline is not None else ()
        rest = stages[stages.index(after) + 1:] if after in stages else stages
        staged = self._stages(rest, data, False) if rest else data
        return staged is not None and self.send_to(staged, self.endpoint)

    def forward_datagram(self, data: bytes, source: Address) -> None:
        """Relay a datagram that is not RTP (the parties' own STUN and DTLS in pass-through)
        as RTP is relayed: counted, its source learnt, sent unchanged to the sink's party."""
        now = time.time()
        size = len(data)
        self.stats_in.packets += 1
        self.stats_in.bytes += size
        self._ingress.packets += 1
        self._ingress.bytes += size
        self._relayed.packets += 1
        self._relayed.bytes += size
        self.owner.last_packet = now
        if (source != self.endpoint or not self.confirmed) and not self._learn(source, False,
                                                                               now):
            return
        sink = self.sink
        if sink is None or sink.endpoint is None:
            self._unrouted()
            return
        sink.send_to(data, sink.endpoint)

    def send_from(self, sock: socket.socket, local: Address) -> None:
        """Send to the party from ``sock`` (one of the stream's sockets: ICE chose a pair on
        another address of a dual-stack interface)."""
        self.sock = sock
        self.local = local
        self._sendto = sock.sendto

    def learn_endpoint(self, address: Address, confirmed: bool) -> None:
        """A handler found the party's media address (ICE nomination): send there from now."""
        self.learned = address
        self._learned(address, confirmed)

    @property
    def closed(self) -> bool:
        return self._relay is None

    def release(self) -> None:
        """Stop reading and forwarding; idempotent.  Must come before the sockets are closed
        (a closed descriptor left registered with the loop goes deaf when its number is reused,
        and can take another user's registration with it)."""
        relay = self._relay
        if relay is None:
            return
        self._relay = None
        self.endpoint = None
        self.sink = self.rtcp_sink = None
        self.fanout = self.rtcp_fanout = ()
        relay.forget(self)
        pipeline, self.pipeline = self.pipeline, None
        if pipeline is not None:  # stop an ICE agent's or a handshake's timers
            for handler in (pipeline.stun, pipeline.dtls):
                close = getattr(handler, "close", None)
                if close is not None:
                    close()

    # ------------------------------------------------------------------ hot path

    def read(self, recvfrom: RecvFrom) -> None:
        """Read and relay what is waiting on one of the stream's sockets (the event loop calls
        this, with that socket's ``recvfrom``, when it is readable)."""
        now = time.time()
        batch = BATCH if now - self._last_wake < BUSY_GAP else 1
        self._last_wake = now
        while batch:
            batch -= 1
            try:
                data, source = recvfrom(RECV_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                self._recv_failed(exc)
                return
            self.packet(data, source, now)

    def packet(self, data: bytes, source: tuple[str, int], now: float) -> None:
        """Relay one datagram received at ``now`` from ``source`` on one of the stream's
        sockets (also what the native reader hands over: :mod:`rtpgate.media.native`)."""
        size = len(data)
        if size < RTCP_HEADER or data[0] & 0xC0 != 0x80:
            self._not_media(data, source)
            return
        rtcp = self.rtcp or (self.rtcp_mux and 192 <= data[1] <= 223)
        if rtcp:
            ssrc = data[4:8]
        elif size < RTP_HEADER:
            self._not_media(data, source)
            return
        else:
            ssrc = data[8:12]
        stats = self.stats_in
        stats.packets += 1
        stats.bytes += size
        ingress = self._ingress
        ingress.packets += 1
        ingress.bytes += size
        relayed = self._relayed
        relayed.packets += 1
        relayed.bytes += size
        self.owner.last_packet = now
        if ssrc != self._last_ssrc:
            self._new_ssrc(ssrc)
        if self.pipeline is not None and self.pipeline.ingress:
            staged = self._stages(self.pipeline.ingress, data, rtcp)
            if staged is None:
                return
            data = staged
        if rtcp:
            self._reports(data, now)  # after the ingress stages: SRTCP is decrypted there
        if (source != self.endpoint or not self.confirmed) and not self._learn(
                _address(source), rtcp, now):
            return
        self._deliver(data, rtcp, size)

    def resume(self, data: bytes, after: Stage) -> None:
        """Relay an RTP packet an ingress stage held back and lets go now (a delay buffer):
        through the ingress stages that follow ``after`` (all of them when ``after`` is no
        longer in the pipeline), then as :meth:`packet` relays what its stages passed."""
        stages = self.pipeline.ingress if self.pipeline is not None else ()
        rest = stages[stages.index(after) + 1:] if after in stages else stages
        staged = self._stages(rest, data, False) if rest else data
        if staged is not None:
            self._deliver(staged, False, len(data))

    def _deliver(self, data: bytes, rtcp: bool, size: int) -> None:
        """Media control, fan-out and the sink, for a packet past the ingress stages
        (``size``: what it counts as sent when no egress stage changes it: the datagram
        received)."""
        if rtcp:
            sink = self.rtcp_sink if self.rtcp_mux and not self.rtcp else self.sink
        else:
            sink = self.sink
            if self.control is not None:
                controlled = self.control.apply(data)
                if controlled is None:
                    self.drops.blocked += 1
                    return
                data = controlled
        if self.fanout or self.rtcp_fanout:
            self._fan_out(data, rtcp and self.rtcp_mux and not self.rtcp)
            if sink is None:
                return
        if sink is None or sink.endpoint is None:
            self._unrouted()
            return
        if sink.pipeline is not None and sink.pipeline.egress:
            staged = self._stages(sink.pipeline.egress, data, rtcp)
            if staged is None:
                return
            data = staged
            size = len(data)
        try:
            sink._sendto(data, sink.endpoint)
        except OSError as exc:
            sink._send_failed(exc)
            return
        out = sink.stats_out
        out.packets += 1
        out.bytes += size
        egress = sink._egress
        egress.packets += 1
        egress.bytes += size

    def _native_route(self) -> NativeRoute | None:
        """What the native reader may relay without calling Python, as long as the attributes
        it watches stay the same objects (:mod:`rtpgate.media.native`): RTP (not RTCP) from
        the endpoint with the SSRC seen last, to a sink with a known endpoint and to each
        subscriber (:attr:`fanout`), when :meth:`packet` would do nothing else with it than
        count, run SRTP stages done by libsrtp, copy it to a capture (the ``capture`` of the
        last ingress stage, a stage that does nothing else: it gets the packet decrypted, as
        that stage would) and send.  The endpoint is confirmed, or was learnt in the
        ``delayed`` learning window, which then ends the route (its ``deadline``: after it,
        the next packet confirms the endpoint in :meth:`_learn`).  ``None``: every packet goes
        to :meth:`packet`."""
        sink, endpoint = self.sink, self.endpoint
        if (self.rtcp or endpoint is None or self.asymmetric
                or self.control is not None or len(self._last_ssrc) != 4
                or self._relay is None or (sink is None and not self.fanout)):
            return None
        if self.confirmed:
            deadline = math.inf
        elif (self.learning is Learning.DELAYED and self.advertised is not None
                and self.learned == endpoint):
            # _learn for a packet from ``learned`` while waiting changes nothing
            deadline = self.signalled + LEARNING_DELAY
        else:
            return None
        ingress = self.pipeline.ingress if self.pipeline is not None else ()
        capture = getattr(ingress[-1], "capture", None) if ingress else None
        if capture is not None:  # the last stage only copies each packet, to this capture
            ingress = ingress[:-1]
        decrypt = _native_stage(ingress) if len(ingress) <= 1 else None
        if decrypt is None:
            return None
        forward: NativeRoute = ("", 0, -1, None, 0, 0)  # a publisher: no offer/answer sink
        if sink is not None:
            target = sink._native_target()
            if target is None:
                return None  # no endpoint yet (counted as unrouted), or a stage of Python's
            forward = target
        copies: list[NativeRoute] = []
        for subscriber in self.fanout:
            if subscriber.endpoint is None:
                copies.append((subscriber,))  # skipped, as _fan_out skips it; still watched
                continue
            target = subscriber._native_target()
            if target is None:
                return None
            context = subscriber.context
            copies.append((subscriber, *target, subscriber.stats_out, subscriber._egress,
                           None if context is None else context.state))
        counters = (self.stats_in, self._ingress, self._relayed,
                    None if sink is None else sink.stats_out,
                    None if sink is None else sink._egress)
        return (endpoint[0], endpoint[1], sink, *forward[:3], self.rtcp_mux, self._last_ssrc,
                *decrypt, *forward[3:], counters, self.owner, tuple(copies), deadline, capture)

    def _native_target(self) -> NativeRoute | None:
        """``(host, port, socket descriptor, stage, session, function)``: how the native
        reader sends to this stream's party (through no egress stage, or one SRTP stage done
        by libsrtp); ``None`` when it cannot (no endpoint, released, another stage, another
        address family than the socket's)."""
        endpoint = self.endpoint
        if endpoint is None or self._relay is None:
            return None
        egress = self.pipeline.egress if self.pipeline is not None else ()
        encrypt = _native_stage(egress) if len(egress) <= 1 else None
        if encrypt is None:
            return None
        host, port = endpoint[0], endpoint[1]
        if (":" in host) != (self.sock.family == socket.AF_INET6):
            return None
        return (host, port, self.sock.fileno(), *encrypt)

    def _stage_failed(self, stage: Stage, status: int) -> None:
        """The native reader's libsrtp call for ``stage`` failed with ``status``: counted as
        :meth:`_stages` counts a drop."""
        native_failed = getattr(stage, "native_failed")  # noqa: B009 - only SRTP stages have it
        native_failed(status)
        drops = self.drops.stages
        drops[stage.name] = drops.get(stage.name, 0) + 1
        if stage.error:
            self._error()

    # ------------------------------------------------------------------ slow paths

    def _fan_out(self, data: bytes, demuxed_rtcp: bool) -> None:
        """The one place a relayed packet is copied to subscribers: each subscriber's stream
        sends it to its party, with its own SSRC and numbering (:mod:`.outcontext`), through
        its own egress stages (SRTP with its own keys and rollover counter, a transcoder),
        counted on it."""
        rtcp = demuxed_rtcp or self.rtcp
        now = self.owner.last_packet
        for sink in (self.rtcp_fanout if demuxed_rtcp else self.fanout):
            endpoint = sink.endpoint
            if endpoint is None:
                continue
            out = data
            context = sink.context
            if context is not None:
                out = context.rtcp(data) if rtcp else context.rtp(data, now)
            if sink.pipeline is not None and sink.pipeline.egress:
                staged = sink._stages(sink.pipeline.egress, out, rtcp)
                if staged is None:
                    continue
                out = staged
            try:
                sink._sendto(out, endpoint)
            except OSError as exc:
                sink._send_failed(exc)
                continue
            size = len(out)
            stats = sink.stats_out
            stats.packets += 1
            stats.bytes += size
            egress = sink._egress
            egress.packets += 1
            egress.bytes += size

    def _error(self) -> None:
        self.stats_in.errors += 1
        self._ingress.errors += 1
        self._relayed.errors += 1

    def _recv_failed(self, exc: OSError) -> None:
        self.drops.recv_errors += 1
        self._error()
        log.debug("receive error on %s: %s", self, exc)

    def _send_failed(self, exc: OSError) -> None:
        self.stats_out.errors += 1
        self._egress.errors += 1
        self._relayed.errors += 1
        log.debug("send error on %s: %s", self, exc)

    def _unrouted(self) -> None:
        self.drops.unrouted += 1
        self._error()

    def _learned(self, endpoint: Address | None, confirmed: bool) -> None:
        changed = endpoint != self.endpoint or confirmed != self.confirmed
        self.endpoint = endpoint
        self.confirmed = confirmed
        if changed and self.on_learned is not None:
            self.on_learned(self)

    def _reports(self, data: bytes, now: float) -> None:
        blocks = report_blocks(data, now)
        if blocks:
            remember(self.rtcp_reports, blocks)

    def _new_ssrc(self, ssrc: bytes) -> None:
        self._last_ssrc = ssrc
        value = int.from_bytes(ssrc, "big")
        if value not in self.ssrcs and len(self.ssrcs) < MAX_SSRCS:
            self.ssrcs.append(value)

    def _stages(self, stages: tuple[Stage, ...], data: bytes, rtcp: bool) -> bytes | None:
        """Run a pipeline direction; a drop is counted by stage (an error if the stage says
        the packet was bad)."""
        for stage in stages:  # pipeline.run, inlined: this is per packet
            out = stage.rtcp(data) if rtcp else stage.rtp(data)
            if out is None:
                drops = self.drops.stages
                drops[stage.name] = drops.get(stage.name, 0) + 1
                if stage.error:
                    self._error()
                return None
            data = out
        return data

    def _not_media(self, data: bytes, source: tuple[str, int]) -> None:
        """Anything that is not RTP/RTCP: STUN for ICE, DTLS for its handler, else an
        error."""
        pipeline = self.pipeline
        if pipeline is not None:
            handler = (pipeline.stun if is_stun(data)
                       else pipeline.dtls if is_dtls(data) else None)
            if handler is not None:
                handler.datagram(self, data, _address(source))
                return
        if self.ice is None or not is_stun(data):
            self.drops.malformed += 1
            self._error()
            return
        try:
            outcome = ice.answer(data, _address(source), self.ice)
        except ValueError:  # malformed, or a wrong FINGERPRINT
            self.drops.stun_rejected += 1
            self._error()
            return
        if outcome.reply is not None:
            if not outcome.authenticated:
                self.drops.stun_rejected += 1
                self._error()
            self.stun_answered += 1
            try:
                self._sendto(outcome.reply, source)
            except OSError as exc:
                self._send_failed(exc)
        if outcome.nominated or (outcome.authenticated and self.endpoint is None):
            self.learned = _address(source)
            self._learned(self.learned, outcome.nominated or self.confirmed)

    def _learn(self, source: Address, rtcp: bool, now: float) -> bool:
        """rtpengine's address check for a packet from ``source``; False: drop it."""
        if self.advertised is None:
            return True  # not signalled yet: forward, learn nothing
        if not self.confirmed and rtcp and not self.rtcp:
            return True  # stray RTCP on an RTP port does not confirm (rtpengine GH #697)
        if self.asymmetric or self.learning is Learning.OFF:
            if not self.confirmed:
                self._learned(self.endpoint, True)
            if self.asymmetric and self.learned is None:
                self.learned = source
        if self.confirmed:
            expected = self.learned if self.asymmetric else self.endpoint
            if source == expected:
                return True
            if self.media_handover:
                if self.asymmetric:
                    self.learned = source
                else:
                    self._learned(source, True)
                return True
            if self.strict_source:
                self.drops.strict_source += 1
                self._error()
                return False
            return True
        waiting = now <= self.signalled + LEARNING_DELAY
        candidate = source
        if self.learning is Learning.IMMEDIATE:
            waiting = False
        elif self.learning is Learning.HEURISTIC and self.advertised[1]:
            # rank: 0 the SDP address, 1 same IP, 2 same port, 3 neither
            rank = (source[1] != self.advertised[1]) | (source[0] != self.advertised[0]) << 1
            self._detected[rank] = source
            candidate = next(a for a in self._detected if a is not None)
        if not waiting:
            log.info("confirmed peer address %s:%d on %s", candidate[0], candidate[1], self)
        if not waiting or candidate != self.learned:
            self.learned = candidate
            self._learned(candidate, not waiting)
        return True
