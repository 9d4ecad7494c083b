"""The offer/answer state machine (rtpengine's ``monologue_offer_answer``).

One SDP travels from a *sender* monologue to a *receiver* monologue: the offerer to the answerer
for an offer, the answerer back to the offerer for an answer (the from-tag/to-tag swap).  For
every ``m=`` section the sender's media learns the endpoint and what it advertises, and the
receiver's media gets local ports keyed by that endpoint, which go into the SDP it receives.

A negotiation runs in two steps so that a failure changes nothing: :meth:`Negotiation.prepare`
decides everything and allocates every port it needs without touching the call (and gives the
ports back if any allocation fails), then :meth:`Negotiation.commit` applies the decisions, which
cannot fail.
"""

from __future__ import annotations

import logging
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import codecs as cd
from . import model as m
from . import sdes, transport_protocols
from .codec_support import CodecSupport
from .flags import OfferFlags
from .interfaces import Interfaces, LogicalInterface
from .params import StreamParams
from .ports import MediaSocket

log = logging.getLogger("rtpgate.engine")

OFFER = "offer"
ANSWER = "answer"

_ALNUM = string.ascii_letters + string.digits


class OutOfPorts(Exception):  # noqa: N818 - rtpengine's "Ran out of ports"
    pass


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def new_ice_credentials() -> m.IceCredentials:
    return m.IceCredentials(_random(8), _random(26))


@dataclass(slots=True)
class MediaState:
    """The negotiable fields of a media, worked on before they are applied."""

    flags: int
    protocol: str | None
    protocol_str: str
    type: str
    ptime: int
    media_id: str | None
    family: str | None
    interface: LogicalInterface | None
    sdes_in: list[sdes.CryptoParams]
    sdes_out: list[sdes.CryptoParams]

    @classmethod
    def of(cls, media: m.Media) -> MediaState:
        return cls(media.flags, media.protocol, media.protocol_str, media.type, media.ptime,
                   media.media_id, media.family, media.interface, list(media.sdes_in),
                   list(media.sdes_out))

    def apply_to(self, media: m.Media) -> None:
        media.flags = self.flags
        media.protocol = self.protocol
        media.protocol_str = self.protocol_str
        media.type = self.type
        media.ptime = self.ptime
        media.media_id = self.media_id
        media.family = self.family
        media.interface = self.interface
        media.sdes_in = self.sdes_in
        media.sdes_out = self.sdes_out

    def set(self, bit: int, on: bool) -> None:
        self.flags = self.flags | bit if on else self.flags & ~bit

    def has(self, bit: int) -> bool:
        return bool(self.flags & bit)


@dataclass(slots=True)
class MediaPlan:
    sp: StreamParams
    receiver: m.Media
    sender: m.Media
    new_receiver: bool
    new_sender: bool
    r: MediaState
    s: MediaState
    codecs: list[cd.Codec]
    rejected: bool = False
    r_map: m.EndpointMap | None = None
    #: ``claim`` a wildcard map, ``use`` a keyed map, ``realloc`` a short map, ``new`` map.
    r_action: str = "new"
    r_ports: int = 2
    r_sets: list[list[MediaSocket]] | None = None
    s_wildcard: bool = False
    s_map: m.EndpointMap | None = None
    s_ports: int = 2
    s_sets: list[list[MediaSocket]] | None = None


@dataclass
class Negotiation:
    interfaces: Interfaces
    is_local: Callable[[m.Endpoint], bool]
    call: m.Call
    sender: m.Monologue
    receiver: m.Monologue
    params: list[StreamParams]
    flags: OfferFlags
    opmode: str
    #: What the media pipeline can transcode (empty: no media plugin).
    support: CodecSupport = field(default_factory=CodecSupport)
    plans: list[MediaPlan] = field(default_factory=list)
    _ml_interface: dict[int, LogicalInterface] = field(default_factory=dict)

    # -------------------------------------------------------------------------- prepare

    def prepare(self) -> None:
        """Decide every media and allocate the ports it needs; raises :class:`OutOfPorts`
        (and :class:`rtpgate.engine.codecs.TranscodingRequired`) with nothing allocated."""
        try:
            for sp in self.params:
                self.plans.append(self._plan(sp))
            for plan in self.plans:
                self._allocate(plan)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        for plan in self.plans:
            for sets in (plan.r_sets, plan.s_sets):
                for run in sets or ():
                    for media_socket in run:
                        media_socket.release()
            plan.r_sets = plan.s_sets = None

    def _plan(self, sp: StreamParams) -> MediaPlan:
        flags = self.flags
        offer = self.opmode == OFFER
        receiver = self.receiver.media(sp.index)
        sender = self.sender.media(sp.index)
        new_r, new_s = receiver is None, sender is None
        if receiver is None:
            receiver = m.Media(self.receiver, sp.index, sp.type)
        if sender is None:
            sender = m.Media(self.sender, sp.index, sp.type)
        r, s = MediaState.of(receiver), MediaState.of(sender)
        codecs = self._codecs(sp, receiver, sender)
        # what the codecs say now, as rtpengine recomputes it on every offer and answer (a
        # changed ptime adds to it below)
        # 'inject DTMF' puts the call through rtpengine's codec path: reported as transcoding
        inject = flags.inject_dtmf or self.sender.inject_dtmf or self.receiver.inject_dtmf
        r.set(m.MF_TRANSCODING, self._transcoding or inject)
        if not offer:
            s.set(m.MF_TRANSCODING, self._transcoding or inject)
        self._transcoding = False

        if offer and flags.reset:
            r.set(m.MF_INITIALIZED, False)
            s.set(m.MF_INITIALIZED, False)
        self._protocol(r, s, sp)
        if flags.ice in ("force-relay", "optional") and sp.ice and sp.rtp_endpoint.port \
                and not flags.ice_reject:
            # rtpengine's __ice_offer: ICE on both sides and not forced through us, so the
            # parties' own ICE and DTLS run end to end (sticky, as rtpengine's flag)
            r.set(m.MF_PASSTHRU, True)
            s.set(m.MF_PASSTHRU, True)
        self._dtls(r, s, sp, receiver)
        self._media_id(r, s, sp)
        if self.is_local(sp.rtp_endpoint):
            s.set(m.MF_LOOP_CHECK, True)
        if sp.rtp_endpoint.port:
            s.set(m.MF_RTCP_MUX, sp.rtcp_mux)
            s.set(m.MF_ASYMMETRIC, flags.asymmetric)
            s.set(m.MF_UNIDIRECTIONAL, flags.unidirectional)
            s.set(m.MF_ICE, sp.ice)
            s.set(m.MF_TRICKLE_ICE, sp.trickle_ice)
            s.set(m.MF_ICE_LITE_PEER, sp.ice_lite_peer)
            s.set(m.MF_LEGACY_OSRTP, sp.legacy_osrtp)
            s.set(m.MF_LEGACY_OSRTP_REV, sp.legacy_osrtp_rev)
        self._ptime(r, s, sp)
        s.family = sp.rtp_endpoint.family
        if r.family is None:
            r.family = s.family
        if flags.address_family:
            r.family = flags.address_family

        # send and recv are from rtpengine's point of view
        r.set(m.MF_SEND, sp.send)
        r.set(m.MF_RECV, sp.recv)
        s.set(m.MF_RECV, sp.send)
        s.set(m.MF_SEND, sp.recv)
        if sp.rtp_endpoint.port:
            self._update_crypto(s, sp)
            self._rtcp_mux(r, s)
            self._generate_crypto(r, s, receiver)
        if r.has(m.MF_PASSTHRU):
            # no keys of rtpgate's on either side: the parties' SRTP passes through
            crypto = m.MF_DTLS | m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE | m.MF_SDES
            r.set(crypto, False)
            s.set(crypto, False)
            r.sdes_out = []

        r.interface = self._interface(r, self.receiver, flags.direction[1])
        s.interface = self._interface(s, self.sender, flags.direction[0])
        self._ice(r, s, receiver)
        s.set(m.MF_INITIALIZED, True)

        plan = MediaPlan(sp, receiver, sender, new_r, new_s, r, s, codecs)
        if not sp.rtp_endpoint.port:
            plan.rejected = True
            return plan
        if sp.rtp_endpoint.address in ("0.0.0.0", "::") and not _ice_addresses(sp):
            r.set(m.MF_RECV, False)
            s.set(m.MF_SEND, False)

        plan.r_ports = self._num_ports(r, sp, receiver_side=True, peer=s)
        plan.r_map, plan.r_action = self._find_map(receiver, r, plan.r_ports, sp.rtp_endpoint)
        if len(sender.streams) < sp.num_ports:
            plan.s_wildcard = True
            plan.s_ports = self._num_ports(s, sp, receiver_side=False, peer=r)
            plan.s_map = self._find_wildcard(sender, s, plan.s_ports)
        return plan

    def _codecs(self, sp: StreamParams, receiver: m.Media, sender: m.Media
                ) -> list[cd.Codec]:
        """The codecs for the receiver's SDP: the offer with the codec flags applied (and
        codecs to transcode to added); an answer to an offer that got such codecs is built
        from the offerer's own codecs."""
        request = self.flags.codec
        if request.always_transcode and not self.support:
            raise cd.TranscodingRequired("always transcode")
        audio = sp.type == "audio"
        codecs = cd.apply(sp.codecs, request, self.support, audio)
        if self.opmode == OFFER:
            for name in cd.left_out(sp.codecs, request, self.support, audio):
                log.warning("codec-transcode %s: rtpgate cannot decode and encode it; "
                            "left out of the offer", name)
            original = {c.pt for c in sp.codecs}
            self._transcoding = any(c.pt not in original for c in codecs)
            return codecs
        if receiver.transcode_offer:
            request = replace(request, always_transcode=receiver.always_transcode)
            answered = codecs
            codecs = cd.answer(answered, receiver.sent_codecs, receiver.prefer, request,
                               self.support, receiver.accept)
            # what the answerer took from what it was offered is what it will send
            offered = {c.pt for c in sender.codecs}
            self._transcoding = cd.differ(codecs, [c for c in answered if c.pt in offered])
        if request.single_codec:
            codecs = cd.single(codecs)
        return codecs

    #: The media being planned is transcoded (set by :meth:`_codecs`).
    _transcoding: bool = False

    def _protocol(self, r: MediaState, s: MediaState, sp: StreamParams) -> None:
        if s.type != sp.type:
            s.type = r.type = sp.type
        s.protocol_str = sp.protocol_str
        if s.protocol != sp.protocol:
            s.protocol = sp.protocol
            if self.opmode != ANSWER:
                r.protocol = None
            else:
                self._answer_protocol(r, s, sp)
        if r.protocol is None:
            r.protocol = s.protocol
        if self.flags.transport_protocol and s.protocol is not None:
            r.protocol = self.flags.transport_protocol
        receiving = transport_protocols.get(r.protocol)
        if receiving is not None and self.flags.osrtp_offer and self.opmode == OFFER:
            r.protocol = transport_protocols.osrtp(receiving).key  # RFC 8643 offer

    def _answer_protocol(self, r: MediaState, s: MediaState, sp: StreamParams) -> None:
        """rtpengine's answer special cases: an OSRTP offer answered with plain RTP gets a
        plain answer, unless ``OSRTP=accept``; an OSRTP answer (``a=crypto`` on ``RTP/AVP``)
        to an offer that was not OSRTP is ignored: the answerer's side keeps the offered
        protocol."""
        answered = transport_protocols.get(sp.protocol)
        offered = transport_protocols.get(r.protocol)
        if answered is None or offered is None:
            return
        if not answered.srtp and offered.osrtp:
            if not self.flags.osrtp_accept:
                r.protocol = None
        elif answered.osrtp and not offered.osrtp:
            s.protocol = r.protocol

    def _dtls(self, r: MediaState, s: MediaState, sp: StreamParams, receiver: m.Media) -> None:
        """DTLS-SRTP and rtpgate's ``a=setup`` role on each side (RFC 5763 section 5, RFC
        8842).  An offer rtpgate makes is always ``actpass`` (as rtpengine 10.5, whatever
        ``DTLS=`` says); in an answer, a party that offered ``actpass`` gets the role rtpgate
        picks (active, unless ``DTLS=passive``/``DTLS-reverse=passive``/``--dtls-passive``), one
        that offered ``active`` or ``passive`` the other one.  ``DTLS=off`` keeps DTLS out of an
        offer (an answer to a DTLS offerer must speak it)."""
        flags = self.flags
        both = m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE
        # the sender's side: what its party said
        theirs = sp.dtls.setup if sp.dtls is not None else None
        s.set(m.MF_DTLS, sp.dtls is not None and transport_protocols.is_srtp(s.protocol))
        if s.has(m.MF_DTLS) and theirs in ("active", "passive"):
            s.set(both, False)
            s.set(m.MF_DTLS_PASSIVE if theirs == "active" else m.MF_DTLS_ACTIVE, True)
        elif s.has(m.MF_DTLS) and self.opmode == OFFER and flags.dtls_reverse == "passive":
            # rtpengine's __dtls_logic: DTLS-reverse=passive in an actpass offer settles
            # rtpgate's role towards the offerer (passive) for the answer
            s.set(both, False)
            s.set(m.MF_DTLS_PASSIVE, True)
        elif not s.has(m.MF_DTLS):
            s.set(both, False)
        # the receiver's side: what rtpgate writes to its party
        offer = self.opmode == OFFER
        if not transport_protocols.is_srtp(r.protocol) or (offer and flags.dtls == "off"):
            r.set(m.MF_DTLS, False)
            r.set(both, False)
            return
        r.set(m.MF_DTLS, True)
        if offer:
            r.set(both, True)
            return
        # an answer to the party whose offer is on the receiver's media
        offered = receiver.dtls.setup if receiver.dtls is not None else None
        wanted = flags.dtls_reverse or flags.dtls
        if r.has(m.MF_DTLS_PASSIVE) and not r.has(m.MF_DTLS_ACTIVE):
            wanted = wanted or "passive"  # settled at the offer (DTLS-reverse=passive)
        r.set(both, False)
        if offered == "active":
            r.set(m.MF_DTLS_PASSIVE, True)
        elif offered == "passive":
            r.set(m.MF_DTLS_ACTIVE, True)
        else:
            r.set(m.MF_DTLS_PASSIVE if wanted == "passive" else m.MF_DTLS_ACTIVE, True)

    # -- SDES (rtpengine's media_update_crypto and the SDES half of __generate_crypto)

    def _update_crypto(self, s: MediaState, sp: StreamParams) -> None:
        """The sender's own ``a=crypto`` lines."""
        s.sdes_in = list(sp.sdes)
        if s.sdes_in:
            s.set(m.MF_SDES, True)
            s.sdes_in, s.sdes_out = sdes.accept(s.sdes_in, s.sdes_out, self.flags.sdes)
            if self.opmode == OFFER and self.flags.sdes.prefer:  # SDES-prefer: not DTLS
                s.set(m.MF_DTLS | m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE, False)

    def _generate_crypto(self, r: MediaState, s: MediaState, receiver: m.Media) -> None:
        """The receiver's keys and keying methods (after :meth:`_dtls`): SDES beside DTLS in
        a first SRTP offer, SDES alone where this side answered with SDES before, and in an
        answer SDES only where the offerer did not do DTLS."""
        flags = self.flags
        proto = transport_protocols.get(r.protocol)
        dtls_bits = m.MF_DTLS | m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE
        before = receiver.flags
        if proto is None or not proto.srtp:
            r.sdes_out = []
            s.sdes_in, _ = sdes.reorder(s.sdes_in, flags.sdes.offerer_pref)
            r.set(dtls_bits | m.MF_SDES, False)
            if s.protocol is None:
                s.set(dtls_bits | m.MF_SDES, False)
            return
        if self.opmode == OFFER:
            if before & (m.MF_DTLS | m.MF_SDES):
                if not before & m.MF_DTLS:
                    r.set(dtls_bits, False)  # this side chose SDES before: no DTLS offer
            elif not flags.sdes.off:
                r.set(m.MF_SDES, True)
            if not r.has(m.MF_SDES):
                return
            s.set(m.MF_SDES_REORDERED, False)
            r.sdes_out = sdes.offer(s.sdes_in, r.sdes_out, flags.sdes)
            s.sdes_in, moved = sdes.reorder(s.sdes_in, flags.sdes.offerer_pref)
            s.set(m.MF_SDES_REORDERED, moved)
            return
        if not before & m.MF_DTLS:
            r.set(dtls_bits, False)  # the offerer did not offer DTLS
        if r.has(m.MF_DTLS) and r.has(m.MF_SDES) and flags.dtls == "off":
            r.set(dtls_bits, False)
        if r.has(m.MF_DTLS):
            r.set(m.MF_SDES, False)
            return
        r.sdes_out, r.sdes_in = sdes.answer(r.sdes_out, r.sdes_in, s.sdes_in, flags.sdes,
                                            r.has(m.MF_SDES_REORDERED))

    def _media_id(self, r: MediaState, s: MediaState, sp: StreamParams) -> None:
        if self.opmode != OFFER:
            return
        if sp.media_id is not None:
            s.media_id = sp.media_id
        if r.media_id is None:
            if s.media_id is not None:
                r.media_id = s.media_id
            elif self.flags.generate_mid:
                r.media_id = str(sp.index)

    def _ptime(self, r: MediaState, s: MediaState, sp: StreamParams) -> None:
        flags = self.flags
        if sp.ptime > 0:
            if not r.has(m.MF_PTIME_OVERRIDE):
                r.ptime = sp.ptime
            if not s.has(m.MF_PTIME_OVERRIDE):
                s.ptime = sp.ptime
        if flags.ptime > 0:
            r.ptime = flags.ptime
            r.set(m.MF_PTIME_OVERRIDE, True)
            s.set(m.MF_PTIME_OVERRIDE, True)
        if flags.ptime_reverse > 0:
            s.ptime = flags.ptime_reverse
            r.set(m.MF_PTIME_OVERRIDE, True)
            s.set(m.MF_PTIME_OVERRIDE, True)
        # a changed packetisation time needs repacketising: rtpengine reports it as transcoding
        if r.has(m.MF_PTIME_OVERRIDE):
            r.set(m.MF_TRANSCODING, True)
            if self.opmode == ANSWER:
                s.set(m.MF_TRANSCODING, True)

    def _rtcp_mux(self, r: MediaState, s: MediaState) -> None:
        flags = self.flags
        if self.opmode == ANSWER:
            if not s.has(m.MF_RTCP_MUX_OVERRIDE):
                r.set(m.MF_RTCP_MUX, s.has(m.MF_RTCP_MUX))
            return
        if not r.has(m.MF_RTCP_MUX):
            r.set(m.MF_RTCP_MUX, s.has(m.MF_RTCP_MUX))
        if flags.rtcp_mux_offer or flags.rtcp_mux_require:
            r.set(m.MF_RTCP_MUX, True)
        elif flags.rtcp_mux_demux:
            r.set(m.MF_RTCP_MUX, False)
        r.set(m.MF_RTCP_MUX_OVERRIDE, False)
        if s.has(m.MF_RTCP_MUX):
            if not r.has(m.MF_RTCP_MUX):
                r.set(m.MF_RTCP_MUX_OVERRIDE, True)
                if flags.rtcp_mux_reject:
                    s.set(m.MF_RTCP_MUX, False)
            elif flags.rtcp_mux_accept:
                r.set(m.MF_RTCP_MUX_OVERRIDE, True)
            elif flags.rtcp_mux_reject:
                r.set(m.MF_RTCP_MUX_OVERRIDE, True)
                s.set(m.MF_RTCP_MUX, False)
        else:
            r.set(m.MF_RTCP_MUX_OVERRIDE, True)

    def _interface(self, state: MediaState, ml: m.Monologue, name: str | None
                   ) -> LogicalInterface:
        current = state.interface or self._ml_interface.get(ml.unique_id) or ml.interface
        if current is not None and state.family in current.families and (
                not name or current.name == name):
            return current
        chosen = self.interfaces.select(name, state.family)
        self._ml_interface[ml.unique_id] = chosen
        return chosen

    def _ice(self, r: MediaState, s: MediaState, receiver: m.Media) -> None:
        option = self.flags.ice
        offer = self.opmode == OFFER
        if not r.has(m.MF_INITIALIZED):
            r.set(m.MF_ICE, s.has(m.MF_ICE))
        if option == "remove":
            r.set(m.MF_ICE, False)
        elif option in ("force", "force-relay", "optional"):
            r.set(m.MF_ICE, True)
        if self.flags.ice_reject:  # rtpengine's __ice_offer: MEDIA_CLEAR(other, ICE)
            s.set(m.MF_ICE, False)
        if option not in ("force", "default") and not offer and not s.has(m.MF_ICE) \
                and receiver.ice is None:
            # rtpengine's __ice_offer: an answer without ICE to an offerer rtpgate never did
            # ICE with (ICE was not forced on it, it has no agent: in
            # pass-through neither) gets none either
            r.set(m.MF_ICE, False)
            if not r.has(m.MF_PASSTHRU):
                return
        if r.has(m.MF_PASSTHRU):  # no agent of rtpgate's: no role, no ICE-lite
            for state in (r, s):
                state.set(m.MF_ICE_CONTROLLING | m.MF_ICE_LITE_SELF, False)
            return
        if offer and self.flags.trickle_ice:
            r.set(m.MF_TRICKLE_ICE, True)
        lite = self.flags.ice_lite
        if lite is not None:
            # ICE-lite towards the offer's receiver (forward) and/or the offerer (backward)
            towards_r = lite in ("forward", "both") if offer else lite in ("backward", "both")
            r.set(m.MF_ICE_LITE_SELF, towards_r)
            if offer:
                s.set(m.MF_ICE_LITE_SELF, lite in ("backward", "both"))
        if r.has(m.MF_ICE_LITE_PEER):
            r.set(m.MF_ICE_CONTROLLING, True)
        elif not r.has(m.MF_INITIALIZED):
            r.set(m.MF_ICE_CONTROLLING, offer)
        if s.has(m.MF_ICE_LITE_PEER):
            s.set(m.MF_ICE_CONTROLLING, True)
        elif not s.has(m.MF_INITIALIZED):
            s.set(m.MF_ICE_CONTROLLING, not offer)
        for state in (r, s):  # RFC 8445 section 6.1.1: a lite agent is controlled
            if state.has(m.MF_ICE_LITE_SELF):
                state.set(m.MF_ICE_CONTROLLING, False)

    def _num_ports(self, state: MediaState, sp: StreamParams, receiver_side: bool,
                   peer: MediaState) -> int:
        """Ports per local address.  A side whose rtcp-mux is certain gets just one (its
        fallback RTCP stream shows port 0), as rtpengine allocates it."""
        n = sp.num_ports
        if n != 2 or state.protocol is None or not state.has(m.MF_RTCP_MUX):
            return n
        if self.opmode == ANSWER:
            return 1
        if receiver_side:
            return 1 if self.flags.rtcp_mux_require else 2
        return 1 if peer.has(m.MF_RTCP_MUX_OVERRIDE) else 2

    def _find_map(self, media: m.Media, state: MediaState, ports: int, ep: m.Endpoint
                  ) -> tuple[m.EndpointMap | None, str]:
        latching = self.flags.port_latching or (state.has(m.MF_ICE)
                                                and not self.flags.no_port_latching)
        for em in reversed(media.endpoint_maps):
            if em.interface is not state.interface:
                continue
            if em.endpoint is None:
                if em.num_ports >= ports:
                    return em, "claim"
                continue
            if not latching:
                if ep.address in ("0.0.0.0", "::") or em.endpoint.address in ("0.0.0.0", "::"):
                    if ep.port != em.endpoint.port:
                        continue
                elif em.endpoint != ep:
                    continue
            return em, ("use" if em.num_ports >= ports else "realloc")
        return None, "new"

    def _find_wildcard(self, media: m.Media, state: MediaState, ports: int
                       ) -> m.EndpointMap | None:
        for em in reversed(media.endpoint_maps):
            if em.interface is not state.interface:
                continue
            if em.endpoint is None and em.num_ports >= ports:
                return em
            break
        return None

    def _allocate(self, plan: MediaPlan) -> None:
        if plan.rejected:
            return
        if plan.r_action in ("realloc", "new"):
            assert plan.r.interface is not None
            plan.r_sets = _allocate(plan.r.interface, plan.r_ports, plan.sp.num_ports,
                                    plan.r.family)
        if plan.s_wildcard and plan.s_map is None:
            assert plan.s.interface is not None
            plan.s_sets = _allocate(plan.s.interface, plan.s_ports, plan.sp.num_ports,
                                    plan.s.family)

    # -------------------------------------------------------------------------- commit

    def commit(self) -> None:
        """Apply the prepared decisions (cannot fail)."""
        now = time.time()
        for ml_id, interface in self._ml_interface.items():
            for ml in (self.sender, self.receiver):
                if ml.unique_id == ml_id:
                    ml.interface = interface
        for plan in self.plans:
            self._commit_media(plan)
        self._init_streams(self.sender, self.receiver, self.params, now)
        self._init_streams(self.receiver, self.sender, None, now)

    def _commit_media(self, plan: MediaPlan) -> None:
        sp = plan.sp
        receiver, sender = plan.receiver, plan.sender
        if plan.new_receiver:
            self.receiver.medias.append(receiver)
            self.call.attach_media(receiver)
        if plan.new_sender:
            self.sender.medias.append(sender)
            self.call.attach_media(sender)
        plan.r.apply_to(receiver)
        plan.s.apply_to(sender)
        _remember_party(sender, sp)
        receiver.payload_types = tuple(c.pt for c in plan.codecs)
        receiver.encodings = {c.pt: c.encoding for c in plan.codecs}
        receiver.codecs = tuple(plan.codecs)
        self._commit_codecs(plan)
        if plan.rejected:
            for media in (receiver, sender):
                _num_streams(media, sp.num_ports)
                for stream in media.streams:
                    stream.sockets = []
                    stream.selected = None
            return
        em = plan.r_map
        if plan.r_action == "claim":
            assert em is not None
            em.endpoint = sp.rtp_endpoint
        elif plan.r_action == "use":
            assert em is not None and em.endpoint is not None
            if em.endpoint.address in ("0.0.0.0", "::"):
                em.endpoint = sp.rtp_endpoint
        elif plan.r_action == "realloc":
            assert em is not None and plan.r_sets is not None
            em.release()
            em.sets, em.num_ports = plan.r_sets, plan.r_ports
        else:
            assert plan.r.interface is not None and plan.r_sets is not None
            em = m.EndpointMap(sp.rtp_endpoint, plan.r.interface, plan.r_ports, plan.r_sets)
            receiver.endpoint_maps.append(em)
        plan.r_sets = None
        _num_streams(receiver, sp.num_ports)
        _assign(receiver, em)
        created = _num_streams(sender, sp.num_ports)
        if created and plan.s_wildcard:
            wildcard = plan.s_map
            if wildcard is None:
                assert plan.s.interface is not None and plan.s_sets is not None
                wildcard = m.EndpointMap(None, plan.s.interface, plan.s_ports, plan.s_sets)
                sender.endpoint_maps.append(wildcard)
                plan.s_sets = None
            _assign(sender, wildcard)

    def _commit_codecs(self, plan: MediaPlan) -> None:
        """The sender's own codecs and, for an offerer, what its answer is built from."""
        request, sender = self.flags.codec, plan.sender
        if self.opmode != OFFER:
            sender.sent_codecs = tuple(plan.sp.codecs)
            return
        sender.sent_codecs = tuple(cd.offered(plan.sp.codecs, request))
        original = {c.pt for c in plan.sp.codecs}
        added = any(c.pt not in original for c in plan.codecs)
        sender.transcode_offer = plan.sp.type == "audio" and (added or request.always_transcode
                                                              or bool(request.transcode
                                                                      or request.consume
                                                                      or request.accept
                                                                      or request.ignore))
        sender.always_transcode = request.always_transcode
        sender.prefer = tuple(request.consume + request.accept)
        sender.accept = tuple(request.accept)
        options = tuple(request.set + request.transcode)
        plan.receiver.codec_set = sender.codec_set = options
        plan.receiver.codec_transcode = sender.codec_transcode = tuple(request.transcode)

    def _init_streams(self, ml: m.Monologue, peer: m.Monologue,
                      params: list[StreamParams] | None, now: float) -> None:
        """rtpengine's ``__update_init_subscribers``/``__init_streams``: stream flags, and the
        sender's endpoints from the SDP."""
        flags = self.flags
        shared = _shared_bits(flags)
        for position, media in enumerate(ml.medias):
            sp = params[position] if params is not None and position < len(params) else None
            if media.flags & m.MF_ICE and not media.flags & m.MF_PASSTHRU \
                    and media.ice is None:
                media.ice = new_ice_credentials()
            peer_media = peer.medias[position] if position < len(peer.medias) else None
            mux = bool(media.flags & m.MF_RTCP_MUX)
            ice = m.PS_ICE if media.flags & m.MF_ICE else 0
            streams = media.streams
            for pair in range(0, len(streams) - 1, 2):
                rtp, rtcp = streams[pair], streams[pair + 1]
                rtp.flags |= m.PS_RTP
                rtp.flags = (rtp.flags & ~m.PS_ICE) | ice
                if sp is not None:
                    _fill(rtp, sp.rtp_endpoint, pair, now)
                    rtp.flags = rtp.flags & ~_SHARED | shared
                if mux:
                    rtp.flags = (rtp.flags | m.PS_RTCP) & ~m.PS_IMPLICIT_RTCP
                else:
                    rtp.flags &= ~m.PS_RTCP
                rtcp.flags = (rtcp.flags & ~m.PS_RTP) | m.PS_RTCP
                rtcp.flags = (rtcp.flags & ~m.PS_FALLBACK_RTCP) | (m.PS_FALLBACK_RTCP if mux
                                                                   else 0)
                rtcp.flags = (rtcp.flags & ~m.PS_ICE) | ice
                if sp is not None:
                    if sp.implicit_rtcp or sp.rtcp_endpoint is None:
                        _fill(rtcp, sp.rtp_endpoint, pair + 1, now)
                        rtcp.flags |= m.PS_IMPLICIT_RTCP
                    else:
                        _fill(rtcp, sp.rtcp_endpoint, pair, now)
                        rtcp.flags &= ~m.PS_IMPLICIT_RTCP
                    rtcp.flags = rtcp.flags & ~_SHARED | shared
                if peer_media is not None and pair < len(peer_media.streams):
                    peer_rtp = peer_media.streams[pair]
                    zero = (rtp.advertised is not None and rtp.advertised.address
                            in ("0.0.0.0", "::") and not flags.replace_zero_address
                            and not (sp is not None and _ice_addresses(sp)))
                    peer_rtp.flags = ((peer_rtp.flags & ~m.PS_ZERO_ADDR)
                                      | (m.PS_ZERO_ADDR if zero else 0))


_SHARED = m.PS_STRICT_SOURCE | m.PS_MEDIA_HANDOVER


def _ice_addresses(sp: StreamParams) -> bool:
    """The party's addresses come from ICE candidates (a trickle-ICE ``c=IN IP4 0.0.0.0`` with
    port 9 is no hold, RFC 8840)."""
    return sp.remote_ice is not None and (bool(sp.remote_ice.candidates) or sp.trickle_ice)


def _remember_party(media: m.Media, sp: StreamParams) -> None:
    """What the party of ``media`` said about its ICE and DTLS, for the relay's agent and
    handshake (a handshake in progress is kept while the fingerprint stays the same)."""
    media.remote_ice = sp.remote_ice if media.flags & m.MF_ICE or sp.remote_ice else None
    if sp.dtls is None or not media.flags & m.MF_DTLS:
        media.dtls = None
    elif media.dtls is None or media.dtls.fingerprint != sp.dtls.fingerprint:
        media.dtls = sp.dtls
    else:
        media.dtls.setup = sp.dtls.setup


def _shared_bits(flags: OfferFlags) -> int:
    """The stream flags an offer or answer sets on the sender's streams."""
    return ((m.PS_STRICT_SOURCE if flags.strict_source else 0)
            | (m.PS_MEDIA_HANDOVER if flags.media_handover else 0))


def _fill(stream: m.Stream, endpoint: m.Endpoint, port_offset: int, now: float) -> None:
    """rtpengine's ``__fill_stream``: the endpoint the SDP advertises for this stream."""
    stream.last_packet = now
    ep = endpoint._replace(port=endpoint.port + port_offset) if port_offset else endpoint
    if stream.flags & m.PS_FILLED and stream.advertised == ep:
        return
    stream.advertised = ep
    stream.endpoint = ep
    stream.flags |= m.PS_FILLED


def _num_streams(media: m.Media, count: int) -> int:
    """Make ``media`` have ``count`` streams; returns how many were created."""
    created = 0
    while len(media.streams) < count:
        media.streams.append(m.Stream(media, len(media.streams) + 1))
        created += 1
    del media.streams[count:]
    return created


def _assign(media: m.Media, em: m.EndpointMap) -> None:
    """rtpengine's ``__assign_stream_fds``: each stream takes its socket from every local
    address of the map, keeping its selected address if it can."""
    restart_ice = False
    for stream in media.streams:
        old = stream.selected
        sockets = []
        for run in em.sets:
            if stream.component - 1 >= len(run):
                return
            media_socket = run[stream.component - 1]
            media_socket.stream = stream
            sockets.append(media_socket)
        stream.sockets = sockets
        if stream.selected not in sockets:
            same = [s for s in sockets if old is not None and s.local is old.local]
            # a dual-stack interface: the address of the family the party is to get
            family = [s for s in sockets if s.local.family == media.family]
            stream.selected = next(iter(same or family or sockets), None)
        if old is not None and stream.selected is not old:
            restart_ice = True
    if restart_ice and media.ice is not None:
        media.ice = new_ice_credentials()


def _allocate(interface: LogicalInterface, ports: int, streams: int, family: str | None = None
              ) -> list[list[MediaSocket]]:
    """``ports`` consecutive ports on every address of ``interface`` (those of ``family`` first,
    as rtpengine orders a dual-stack interface for the family a party gets), padded with port-0
    placeholders up to ``streams``; raises :class:`OutOfPorts` with nothing kept.  Each address
    has its own pool, as rtpengine's; a stream's ports differ between its addresses (its ICE
    candidates are told apart by port as well as by address)."""
    addresses = sorted(interface.addresses, key=lambda local: local.family != family)
    sets: list[list[MediaSocket]] = []
    numbers: set[int] = set()
    for local in addresses:
        run = None
        for _attempt in range(_DISTINCT_TRIES):
            got = local.pool.allocate(ports, local)
            if got is None or not numbers.intersection(ms.port for ms in got):
                run = got
                break
            for media_socket in got:
                media_socket.release()
        if run is None:
            for got in sets:
                for media_socket in got:
                    media_socket.release()
            raise OutOfPorts(f"no {ports} free ports on {local.address}")
        numbers.update(ms.port for ms in run)
        run += [MediaSocket.placeholder(local) for _ in range(streams - ports)]
        sets.append(run)
    return sets


#: Allocations tried on a further address of an interface for port numbers its other addresses
#: do not use already.
_DISTINCT_TRIES = 4
