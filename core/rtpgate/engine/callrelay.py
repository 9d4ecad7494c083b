"""Keeping the relay in line with the engine's calls.

The engine calls :meth:`CallRelay.sync` whenever a call's signalling or media-control state
changed (after an offer or answer is committed, after block/silence commands).  ``sync`` walks
the call and keeps one :class:`~rtpgate.media.stream.RelayStream` per engine stream that has a
socket, reading all of the stream's sockets and sending from its selected one, and sets from the
engine's state:

* the endpoint from the SDP (``advertised``) and the learning window from the last signal;
* ``asymmetric`` (media flag), ``strict source`` and ``media handover`` (stream flags), rtcp-mux;
* the sinks: a stream's packets go to the peer monologue's stream of the same media and
  component; RTCP goes to the peer's RTCP stream, or its RTP stream when the peer muxes;
* publish/subscribe: a stream's packets are also copied to the same component of every media
  subscribed to its media (``Media.source``), each through the subscriber stream's own egress
  stages (:meth:`~rtpgate.media.stream.RelayStream.fan_out`), in the subscriber's own
  SSRC/sequence/timestamp space (an :class:`~rtpgate.media.outcontext.OutputContext` per
  subscriber RTP/RTCP pair, kept by the subscriber's monologue, so a re-subscription to the
  same or another source continues it);
* media control: the call's and the sending monologue's ``block media``/``silence media``/
  ``block DTMF``, and its directional blocks towards the peer's tag;
* ICE: rtpgate's credentials of the media (the ones in the SDP that advertised its ports);
* the media pipeline (:mod:`rtpgate.media.pipeline`): each :data:`PipelineFactory` in
  :attr:`CallRelay.factories` contributes stages and handlers for the stream from the call model
  (SRTP from the stream's negotiated crypto, a DTLS handshake, a transcoder ...); their ingress
  stages run in factory order, their egress stages in reverse order (so the first factory's
  decrypt runs first and its encrypt last).

Ports are released by the engine (:meth:`rtpgate.engine.ports.MediaSocket.release`), which calls
the ``unwatch`` the relay set on the socket before closing it; a stream whose selected socket
goes is released, so nothing is relayed for a call being deleted.

The relay counts into the engine stream's own ``stats_in``/``stats_out`` and stamps its
``last_packet``, so ``query``, ``delete`` and the timers read what the relay measured; learning
writes the endpoint it found back to ``stream.endpoint`` and the confirmed flag to its flags.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..media.control import RANDOM, MediaControl
from ..media.ice import IceCredentials
from ..media.outcontext import OutputContext
from ..media.pipeline import Pipeline
from ..media.relay import Relay
from ..media.stream import RelayStream
from . import model as m
from .codecs import clock_rate
from .ports import MediaSocket
from .resume import apply_rocs


class PipelineFactory(Protocol):
    """Builds one part of a stream's pipeline from the call model.  ``current`` is the relay
    stream's pipeline now (reuse its stages whose parameters did not change, so their state
    survives); returns ``None`` when it has nothing for this stream."""

    def __call__(self, stream: m.Stream, current: Pipeline | None) -> Pipeline | None:
        ...


def compose(parts: list[Pipeline]) -> Pipeline | None:
    """One pipeline from the factories' parts (ingress in order, egress in reverse order, the
    first STUN and DTLS handler)."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return Pipeline(
        ingress=tuple(stage for part in parts for stage in part.ingress),
        egress=tuple(stage for part in reversed(parts) for stage in part.egress),
        stun=next((p.stun for p in parts if p.stun is not None), None),
        dtls=next((p.dtls for p in parts if p.dtls is not None), None),
        extra={k: v for part in parts for k, v in part.extra.items()})


def _nothing(call: m.Call) -> None:
    """No one listens for changes (a relay without an engine, in tests)."""


def _address(endpoint: m.Endpoint | None) -> tuple[str, int] | None:
    if endpoint is None or not endpoint.port or endpoint.address in ("0.0.0.0", "::"):
        return None
    return (endpoint.address, endpoint.port)


class CallRelay:
    """The relay's view of the engine's calls: engine stream -> relay stream."""

    def __init__(self, relay: Relay, factories: list[PipelineFactory] | None = None) -> None:
        self.relay = relay
        self.streams: dict[m.Stream, RelayStream] = {}
        #: What builds each stream's pipeline (:mod:`rtpgate.media.pipeline`), in order.
        self.factories: list[PipelineFactory] = list(factories or ())
        #: Announces a change the relay made to a call's state (new DTLS-SRTP keys): the
        #: engine sets its :meth:`~rtpgate.engine.engine.Engine.changed` here.
        self.changed: Callable[[m.Call], None] = _nothing

    def sync(self, call: m.Call) -> None:
        """Open and update relay streams so that they match ``call``."""
        for ml in call.monologues:
            for media in ml.medias:
                for stream in media.streams:
                    self._open(stream)
        subscribed = _subscribed(call)
        for ml in call.monologues:
            peer = ml.peers[0] if ml.peers else None
            for media in ml.medias:
                peer_media = peer.media(media.index) if peer is not None else None
                control = self._control(call, ml, peer, media, peer_media)
                ice = (IceCredentials(media.ice.ufrag, media.ice.pwd)
                       if media.ice is not None and media.flags & m.MF_ICE
                       and not media.flags & m.MF_PASSTHRU else None)
                for stream in media.streams:
                    relay_stream = self.streams.get(stream)
                    if relay_stream is not None:
                        self._update(call, media, stream, relay_stream, peer_media, control,
                                     ice)
                        self._fan_out(stream, relay_stream, subscribed.get(media, ()))

    # ------------------------------------------------------------------ internals

    def _open(self, stream: m.Stream) -> None:
        """Watch ``stream``'s sockets; anew if its selected socket changed."""
        selected = stream.selected
        current = self.streams.get(stream)
        if current is not None and selected is not None and current.sock is selected.sock:
            return
        if current is not None:
            del self.streams[stream]
            current.release()
        if selected is None or selected.sock is None:
            return
        local = selected.local
        relay_stream = self.relay.open(selected.sock, (local.name, local.address),
                                       rtcp=stream.is_rtcp, stats_in=stream.stats_in,
                                       stats_out=stream.stats_out, owner=stream,
                                       local=(local.address, selected.port))
        relay_stream.ssrcs = stream.ssrcs
        relay_stream.rtcp_reports = stream.rtcp_reports
        relay_stream.on_learned = _write_back(stream)
        self.streams[stream] = relay_stream
        selected.unwatch = self._unwatch(stream, relay_stream, selected)
        for other in stream.sockets:
            if other is not selected and other.sock is not None:
                self.relay.add_socket(relay_stream, other.sock)
                other.unwatch = self._unwatch(stream, relay_stream, other)

    def _unwatch(self, stream: m.Stream, relay_stream: RelayStream, media_socket: MediaSocket
                 ) -> Callable[[], None]:
        """What to do when the engine closes one of the sockets of ``relay_stream``."""
        sock = media_socket.sock
        assert sock is not None
        fd = sock.fileno()

        def unwatch() -> None:
            if sock is not relay_stream.sock:
                self.relay.remove_socket(relay_stream, fd)
                return
            if self.streams.get(stream) is relay_stream:
                del self.streams[stream]
            relay_stream.release()

        return unwatch

    def _update(self, call: m.Call, media: m.Media, stream: m.Stream, rs: RelayStream,
                peer_media: m.Media | None, control: MediaControl | None,
                ice: IceCredentials | None) -> None:
        rs.signal(call.last_signal)
        if stream.flags & m.PS_FILLED:
            rs.fill(_address(stream.advertised))
        mux = bool(media.flags & m.MF_RTCP_MUX) and not stream.is_rtcp
        rs.configure(asymmetric=bool(media.flags & m.MF_ASYMMETRIC),
                     strict_source=bool(stream.flags & m.PS_STRICT_SOURCE),
                     media_handover=bool(stream.flags & m.PS_MEDIA_HANDOVER), rtcp_mux=mux)
        rs.link(*self._sinks(stream, peer_media))
        rs.set_control(control)
        rs.set_ice(ice)
        if self.factories:
            current = rs.pipeline
            parts = [part for factory in self.factories
                     if (part := factory(stream, current)) is not None]
            pipeline = compose(parts)
            if stream.resume is not None:
                apply_rocs(stream, pipeline)
            rs.set_pipeline(pipeline)

    def _fan_out(self, stream: m.Stream, rs: RelayStream,
                 subscribers: tuple[m.Media, ...]) -> None:
        """The subscribers' streams of ``stream``'s component (and, on an rtcp-mux RTP stream,
        where its RTCP goes on each of them)."""
        sinks: list[RelayStream] = []
        rtcp_sinks: list[RelayStream] = []
        for media in subscribers:
            self._contexts(media)
            sink, rtcp_sink = self._sinks(stream, media)
            if sink is not None:
                sinks.append(sink)
            if rtcp_sink is not None:
                rtcp_sinks.append(rtcp_sink)
        rs.fan_out(tuple(sinks), tuple(rtcp_sinks))

    def _contexts(self, media: m.Media) -> None:
        """A subscriber's output context: one per RTP/RTCP pair of its media, made when it
        first subscribes and kept by its monologue (a re-subscription, to the same or another
        source, goes on with it), on the RTP stream and shared by the RTCP stream."""
        streams = media.streams
        mux = bool(media.flags & m.MF_RTCP_MUX)
        kept = media.monologue.output_contexts
        for pair in range(0, len(streams), 2):
            rtp = self.streams.get(streams[pair])
            if rtp is None:
                continue
            context = kept.get((media.index, pair))
            if not isinstance(context, OutputContext):
                context = kept[(media.index, pair)] = OutputContext()
            context.rates = _clock_rates(media)
            if rtp.context is not context:
                rtp.context = context
            rtcp = None if mux or pair + 1 >= len(streams) else self.streams.get(
                streams[pair + 1])
            if rtcp is not None:
                rtcp.context = context

    def _sinks(self, stream: m.Stream, peer_media: m.Media | None
               ) -> tuple[RelayStream | None, RelayStream | None]:
        """(sink, rtcp_sink): the peer's stream of the same component, and where RTCP goes."""
        if peer_media is None:
            return None, None
        streams = peer_media.streams
        index = stream.component - 1
        if index >= len(streams):
            return None, None
        pair = index - index % 2  # the RTP stream of this RTP/RTCP pair
        peer_rtp = self.streams.get(streams[pair])
        peer_mux = bool(peer_media.flags & m.MF_RTCP_MUX)
        peer_rtcp = peer_rtp if peer_mux or pair + 1 >= len(streams) \
            else self.streams.get(streams[pair + 1])
        if stream.is_rtcp:
            return peer_rtcp, None
        return peer_rtp, peer_rtcp

    @staticmethod
    def _control(call: m.Call, ml: m.Monologue, peer: m.Monologue | None, media: m.Media,
                 peer_media: m.Media | None) -> MediaControl | None:
        """What applies to media *from* ``ml``: the call's state, the monologue's own, and its
        directional blocks towards the peer.  Its party sends the codecs it offered or
        answered with, which the engine passed on to the peer's media."""
        whole, own = call.media_control, ml.control
        towards = peer.tag if peer is not None else None
        block = whole.block_media or own.block_media or towards in own.block_media_to
        silence = whole.silence_media or own.silence_media or towards in own.silence_media_to
        state = ml.dtmf_blocking()
        dtmf = state is not None
        replace = None if state is None else {"zero": 0, "dtmf": state.dtmf_digit,
                                               "random": RANDOM}.get(state.dtmf_mode)
        if not (block or silence or dtmf):
            return None
        encodings = {**media.encodings, **(peer_media.encodings if peer_media else {})}
        return MediaControl.for_codecs(encodings, block_media=block, silence_media=silence,
                                       block_dtmf=dtmf, dtmf_replace=replace)


def _subscribed(call: m.Call) -> dict[m.Media, tuple[m.Media, ...]]:
    """Each source media of the call and the medias subscribed to it, in call order."""
    out: dict[m.Media, tuple[m.Media, ...]] = {}
    for ml in call.monologues:
        for media in ml.medias:
            if media.source is not None and media.flags & m.MF_SEND:
                out[media.source] = (*out.get(media.source, ()), media)
    return out


def _clock_rates(media: m.Media) -> dict[int, int]:
    """The RTP clock rate of each payload type of ``media`` that names one."""
    return {codec.pt: rate for codec in media.codecs if (rate := clock_rate(codec))}


def _write_back(stream: m.Stream) -> Callable[[RelayStream], None]:
    """What learning found, onto the engine's stream (``endpoint`` and the confirmed flag)."""

    def learned(rs: RelayStream) -> None:
        if rs.endpoint is not None:
            family = "IP6" if ":" in rs.endpoint[0] else "IP4"
            stream.endpoint = m.Endpoint(family, rs.endpoint[0], rs.endpoint[1])
        stream.flags = (stream.flags | m.PS_CONFIRMED if rs.confirmed
                        else stream.flags & ~m.PS_CONFIRMED)

    return learned
