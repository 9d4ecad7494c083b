"""ICE and DTLS-SRTP on a relay stream: the pipeline factory that gives each stream its agent,
its handshake and, once keys exist, its SRTP stages.

:class:`WebrtcPipelines` is one of :attr:`rtpgate.engine.callrelay.CallRelay.factories`.  For a
stream whose media does ICE with its party (rtpgate advertised ICE and the party's SDP had
credentials) it keeps an :class:`~rtpgate.media.iceagent.IceAgent` as the stream's STUN handler;
for a media with DTLS-SRTP and a decided role a :class:`~rtpgate.media.dtls.DtlsSession` as its
DTLS handler.  Both live in :attr:`Pipeline.extra` (key ``"webrtc"``) so that every later sync
finds and updates them (trickled candidates, ICE restarts, the fingerprint of an answer) instead
of starting over.  A media in pass-through (``ICE=force-relay``) gets neither: its STUN and DTLS
are forwarded to the peer unchanged (:mod:`rtpgate.media.passthrough`).

What they find goes back into the call model: the nominated pair becomes the stream's endpoint
(``learn_endpoint``), the handshake's state, suite and failure go to the media's
:class:`~rtpgate.engine.model.DtlsState`, and the ICE state to ``media.ice_state``; the keys make
the stream's ingress ``srtp-decrypt`` and egress ``srtp-encrypt`` stages (the relay re-syncs the
call so every factory's part is composed again).  Until the handshake is done, RTP from or to a
DTLS-SRTP party is dropped: nothing leaves unencrypted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..media.dtls import Certificate, DtlsSession, SrtpKeys
from ..media.iceagent import IceAgent, Local, parse_candidate
from ..media.passthrough import PASS_THROUGH
from ..media.pipeline import Pipeline, Stage
from ..media.srtp import SrtpDecrypt, SrtpEncrypt
from . import model as m

if TYPE_CHECKING:
    from ..media.stream import Address, RelayStream
    from .callrelay import CallRelay

log = logging.getLogger("rtpgate.media.webrtc")

KEY = "webrtc"


class Blocked:
    """Drops RTP/RTCP of a DTLS-SRTP stream whose keys are not there yet (or whose handshake
    failed): counted by the relay under this stage's name, not as errors."""

    name = "dtls-pending"
    error = False

    def rtp(self, data: bytes) -> bytes | None:
        return None

    def rtcp(self, data: bytes) -> bytes | None:
        return None


BLOCKED = Blocked()


@dataclass(eq=False)
class StreamSecurity:
    """The ICE agent, DTLS session and SRTP stages of one relay stream."""

    agent: IceAgent | None = None
    dtls: DtlsSession | None = None
    #: The role the session was made for (a new role is a new session).
    active: bool | None = None
    stages: tuple[Stage, Stage] | None = None
    #: The keys the stages were made from (kept across a restart, :mod:`.resume`).
    keys: SrtpKeys | None = None
    #: The keys came from before a restart: no handshake is started (the party's own new
    #: handshake, if it starts one, replaces them).
    resumed: bool = False

    def datagram(self, stream: RelayStream, data: bytes, source: Address) -> None:
        """The stream's DTLS handler: with ICE, only from a source that passed its checks (a
        stranger's ClientHello must not take the handshake over)."""
        if self.dtls is None:
            return
        if self.agent is not None and not self.agent.trusted(source):
            self.dtls.refuse(source)
            return
        self.dtls.datagram(stream, data, source)

    def close(self) -> None:
        if self.agent is not None:
            self.agent.close()
        if self.dtls is not None:
            self.dtls.close()


def _label(stream: m.Stream) -> str:
    media = stream.media
    ml = media.monologue
    return f"{ml.call.call_id}/{ml.tag or '<untagged>'}/{media.index}/{stream.component}"


class WebrtcPipelines:
    """The pipeline factory (see the module docstring)."""

    def __init__(self, relay: CallRelay, certificate: Certificate, software: str = "") -> None:
        self.relay = relay
        self.certificate = certificate
        #: ``--software-id``: the ``SOFTWARE`` of the ICE agents' STUN messages
        self.software = software

    def __call__(self, stream: m.Stream, current: Pipeline | None) -> Pipeline | None:
        rs = self.relay.streams.get(stream)
        found = current.extra.get(KEY) if current is not None else None
        state = found if isinstance(found, StreamSecurity) else None
        media = stream.media
        if media.flags & m.MF_PASSTHRU:
            # the parties' own ICE and DTLS, end to end: no agent or handshake of rtpgate's
            if state is not None:
                state.close()
            return Pipeline(stun=PASS_THROUGH, dtls=PASS_THROUGH) if rs is not None else None
        ice = bool(media.flags & m.MF_ICE) and media.ice is not None \
            and media.remote_ice is not None
        dtls = bool(media.flags & m.MF_DTLS) and bool(
            media.flags & (m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE))
        if rs is None or not (ice or dtls):
            if state is not None:
                state.close()
            return None
        resume = None
        if state is None:
            state = StreamSecurity()
            resume = stream.resume
        self._ice(stream, rs, state, ice)
        if resume is not None and resume.ice_pair is not None and state.agent is not None:
            state.agent.resume(*resume.ice_pair)
        self._dtls(stream, rs, state, dtls)
        if resume is not None and resume.dtls_keys is not None and dtls \
                and state.stages is None:
            self._resume_keys(stream, state, resume.dtls_keys)
        ingress: tuple[Stage, ...] = ()
        egress: tuple[Stage, ...] = ()
        if dtls:
            if state.stages is not None:
                ingress, egress = (state.stages[0],), (state.stages[1],)
            else:
                ingress, egress = (BLOCKED,), (BLOCKED,)
        return Pipeline(ingress=ingress, egress=egress, stun=state.agent,
                        dtls=state if state.dtls is not None else None, extra={KEY: state})

    # ------------------------------------------------------------------ ICE

    def _ice(self, stream: m.Stream, rs: RelayStream, state: StreamSecurity, on: bool) -> None:
        media = stream.media
        if not on:
            if state.agent is not None:
                state.agent.close()
                state.agent = None
            return
        assert media.ice is not None and media.remote_ice is not None
        remote = media.remote_ice
        candidates = [c for c in (parse_candidate(v) for v in remote.candidates)
                      if c is not None]
        agent = state.agent
        if agent is None:
            locals_ = [Local((ms.local.address, ms.port), ms.sock.sendto, 65535 - position)
                       for position, ms in enumerate(stream.sockets) if ms.sock is not None]
            agent = state.agent = IceAgent(
                media.ice.ufrag, media.ice.pwd, stream.component,
                bool(media.flags & m.MF_ICE_CONTROLLING), locals_,
                on_selected=self._selected(stream, rs, state),
                on_lost=self._lost(stream, rs), label=_label(stream),
                lite=bool(media.flags & m.MF_ICE_LITE_SELF), software=self.software)
        else:
            agent.restart(media.ice.ufrag, media.ice.pwd)
        agent.set_remote(remote.ufrag, remote.pwd, candidates, remote.lite)
        media.ice_state = agent.state

    def _selected(self, stream: m.Stream, rs: RelayStream, state: StreamSecurity
                  ) -> Callable[[Address], None]:
        def selected(remote: Address) -> None:
            stream.media.ice_state = "completed"
            pair = state.agent.selected if state.agent is not None else None
            if pair is not None and pair.local != rs.local:
                for ms in stream.sockets:
                    if ms.sock is not None and (ms.local.address, ms.port) == pair.local:
                        # the engine's stream sends from there too (as rtpengine switches its
                        # selected socket), so the next sync keeps this relay stream
                        stream.selected = ms
                        rs.send_from(ms.sock, pair.local)
            rs.learn_endpoint(remote, True)
            if state.dtls is not None and state.active and not state.resumed:
                state.dtls.start(rs, remote)

        return selected

    @staticmethod
    def _lost(stream: m.Stream, rs: RelayStream) -> Callable[[], None]:
        def lost() -> None:
            stream.media.ice_state = "disconnected"
            rs.endpoint = None  # RFC 7675: no more media to a peer that withdrew consent

        return lost

    # ------------------------------------------------------------------ DTLS

    def _dtls(self, stream: m.Stream, rs: RelayStream, state: StreamSecurity, on: bool
              ) -> None:
        media = stream.media
        if not on:
            if state.dtls is not None:
                state.dtls.close()
            state.dtls, state.stages, state.active = None, None, None
            return
        flags = media.flags
        # actpass (an offer not answered yet): wait as the server, the answerer may be the
        # client and start before its answer reaches us
        active = bool(flags & m.MF_DTLS_ACTIVE) and not flags & m.MF_DTLS_PASSIVE
        party = media.dtls
        fingerprint = party.fingerprint if party is not None else None
        session = state.dtls
        if session is None or state.active != active or (
                session.remote_fingerprint is not None and fingerprint is not None
                and session.remote_fingerprint != fingerprint):
            if session is not None:
                session.close()
            session = state.dtls = DtlsSession(
                self.certificate, active, fingerprint,
                on_keys=self._keys(stream, state), on_failed=self._failed(stream),
                label=_label(stream))
            state.active, state.stages, state.keys, state.resumed = active, None, None, False
            if party is not None:
                party.state, party.suite, party.failure = "new", None, None
        else:
            session.set_remote_fingerprint(fingerprint)
        if active and session.state == "new" and not state.resumed:
            agent = state.agent
            if agent is not None:
                if agent.selected is not None:
                    session.start(rs, agent.selected.remote)
            elif rs.endpoint is not None:
                session.start(rs, rs.endpoint)

    def _keys(self, stream: m.Stream, state: StreamSecurity) -> Callable[[SrtpKeys], None]:
        def keys(srtp: SrtpKeys) -> None:
            self._use_keys(stream, state, srtp)
            state.resumed = False
            self.relay.sync(stream.media.monologue.call)
            # the new keys are what a restarted node must resume with
            self.relay.changed(stream.media.monologue.call)

        return keys

    @staticmethod
    def _use_keys(stream: m.Stream, state: StreamSecurity, srtp: SrtpKeys) -> None:
        state.keys = srtp
        state.stages = (
            SrtpDecrypt.keyed(srtp.suite, srtp.remote_key, srtp.remote_salt, stream.srtp),
            SrtpEncrypt.keyed(srtp.suite, srtp.local_key, srtp.local_salt, stream.srtp))
        party = stream.media.dtls
        if party is not None:
            party.state, party.suite = "connected", srtp.suite
        stream.flags |= m.PS_FINGERPRINT_VERIFIED

    def _resume_keys(self, stream: m.Stream, state: StreamSecurity, srtp: SrtpKeys) -> None:
        """A restored stream: the keys of the handshake before the restart, no new one."""
        try:
            self._use_keys(stream, state, srtp)
        except ValueError as exc:  # a suite this build does not know: handshake again
            log.warning("DTLS %s: stored SRTP keys not usable (%s)", _label(stream), exc)
            state.stages, state.keys = None, None
            return
        state.resumed = True
        log.info("DTLS %s: resumed with the keys from before the restart", _label(stream))

    @staticmethod
    def _failed(stream: m.Stream) -> Callable[[str], None]:
        def failed(reason: str) -> None:
            party = stream.media.dtls
            if party is not None:
                party.state, party.failure = "failed", reason

        return failed
