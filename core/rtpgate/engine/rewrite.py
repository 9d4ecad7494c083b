"""Rewriting an SDP for its receiver (rtpengine's ``sdp_replace``).

The output is the input copied piece by piece: what rtpgate does not touch is copied byte for
byte.  It replaces the ``m=`` port, protocol and format list, the ``c=`` addresses (keeping
``0.0.0.0`` on hold), and on request the ``o=`` address, user name, session name and version.
It strips the attributes it regenerates and appends, at the end of each media section and in
rtpengine's order: ``a=mid``, per codec ``a=rtpmap``/``a=fmtp``/``a=rtcp-fb``, the direction,
``a=rtcp`` (and ``a=rtcp-mux``), ``a=ptime``, then ICE credentials and candidates.  A rejected
(port 0) section keeps its port and ``a=mid`` and loses the other regenerated attributes; an
``m=message`` (MSRP over TCP) section is not relayed and stays as written (with the session's
``c=`` copied into it when it had none).

Pass-through (``ICE=force-relay`` or ``optional`` with ICE on both sides, rtpengine's
``PASSTHRU``): the section keeps its party's protocol and its own ICE, DTLS and SDES attributes,
and rtpgate's ports are appended as candidates just above the party's own.  ``ICE=force-relay``
also keeps the party's ``c=`` address and ``m=`` port, drops its ``typ relay`` candidates, writes
rtpgate's as ``typ relay`` and no ``a=rtcp`` in an offer (as rtpengine 10.5).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from ..media.dtls import Certificate, normalize_hash
from . import model as m
from . import sdp as s
from . import transport_protocols
from .flags import OfferFlags
from .negotiate import ANSWER, OFFER, MediaPlan
from .sdes import format_crypto

_ICE_KINDS = frozenset({s.ICE, s.ICE_LITE, s.ICE_OPTIONS, s.ICE_UFRAG, s.ICE_PWD,
                        s.CANDIDATE})
_DIRECTIONS = frozenset({s.INACTIVE, s.SENDRECV, s.SENDONLY, s.RECVONLY})
_SESSION_STRIP = _ICE_KINDS | {s.FINGERPRINT, s.SETUP, s.IGNORE, s.TLS_ID}
_MEDIA_STRIP = _ICE_KINDS | {s.RTCP, s.RTCP_MUX, s.IGNORE, s.END_OF_CANDIDATES, s.MID,
                             s.CRYPTO, s.FINGERPRINT, s.SETUP, s.TLS_ID}
#: Attributes a pass-through section keeps (its party's ICE, DTLS, SDES and RTCP lines).
_PASSTHROUGH_KEEP = _ICE_KINDS | {s.RTCP, s.RTCP_MUX, s.END_OF_CANDIDATES, s.CRYPTO,
                                  s.FINGERPRINT, s.SETUP, s.TLS_ID}
_HOST_TYPE_PREF = 126
_RELAY_TYPE_PREF = 0


def _passthrough(plan: MediaPlan) -> bool:
    return bool(plan.receiver.flags & m.MF_PASSTHRU)


def _relay_candidate(attr: s.Attribute) -> bool:
    return attr.kind == s.CANDIDATE and " typ relay" in (attr.value or "")


def is_duplicate(sdp: s.Sdp, instance_id: str) -> bool:
    """Every session already carries our ``a=rtpengine:`` marker (loop protection)."""
    for session in sdp.sessions:
        if s.RTPENGINE not in session.kinds or not any(
                a.kind == s.RTPENGINE and a.value == instance_id for a in session.attributes):
            return False
    return True


class Rewriter:
    def __init__(self, sdp: s.Sdp, plans: list[MediaPlan], receiver: m.Monologue,
                 flags: OfferFlags, opmode: str, instance_id: str,
                 certificate: Certificate | None = None) -> None:
        self.certificate = certificate
        self.sdp = sdp
        self.text = sdp.text
        self.plans = plans
        self.receiver = receiver
        self.flags = flags
        self.opmode = opmode
        self.instance_id = instance_id
        self.out: list[str] = []
        self.pos = 0
        self.version_slots: list[int] = []

    # ------------------------------------------------------------------ chopper

    def copy_to(self, position: int) -> None:
        if position > self.pos:
            self.out.append(self.text[self.pos:position])
            self.pos = position

    def skip_to(self, position: int) -> None:
        if position > self.pos:
            self.pos = position

    def replace(self, start: int, end: int, text: str) -> None:
        self.copy_to(start)
        self.out.append(text)
        self.skip_to(end)

    def lines(self, lines: list[str]) -> None:
        """Append generated lines, after a line break if the copied text lacks one."""
        if not lines:
            return
        last = next((chunk for chunk in reversed(self.out) if chunk), "\n")
        if not last.endswith("\n"):
            self.out.append("\r\n")
        self.out.append("".join(lines))

    # ------------------------------------------------------------------ addresses

    def _address(self, plan: MediaPlan, stream: m.Stream | None, keep_zero: bool) -> str:
        flags = self.flags
        source = _source(plan, self.flags)
        if source is not None:
            return f"{source.family} {source.address}"
        if flags.media_address is not None:
            return f"{flags.media_address_family} {flags.media_address}"
        local = stream.selected.local if stream is not None and stream.selected else None
        if local is None:
            interface = plan.receiver.interface
            assert interface is not None
            local = interface.addresses[0]
        if keep_zero and stream is not None and stream.flags & m.PS_ZERO_ADDR:
            return f"{local.family} {'0.0.0.0' if local.family == 'IP4' else '::'}"
        return f"{local.family} {local.advertised}"

    # ------------------------------------------------------------------ the rewrite

    def run(self) -> str:
        receiver = self.receiver
        flags = self.flags
        # legacy OSRTP taken as one media: its other section has no plan and is left out
        plan_of = {id(plan.sp.media): plan for plan in self.plans}
        for session in self.sdp.sessions:
            plans = [plan_of[id(media)] for media in session.medias if id(media) in plan_of]
            first = plans[0]
            first_rtp = first.receiver.streams[0] if first.receiver.streams else None
            if receiver.sdp_username is None:
                receiver.sdp_username = session.username
            elif flags.replace_username and session.username_start >= 0:
                self.replace(session.username_start,
                             session.username_start + len(session.username),
                             receiver.sdp_username)
            if session.version_start >= 0:
                self.copy_to(session.version_start)
                self.version_slots.append(len(self.out))
                self.out.append(session.version)
                self.skip_to(session.version_start + len(session.version))
                if not receiver.sdp_version:
                    receiver.sdp_version = (session.version_num
                                            if 0 < session.version_num < 2 ** 64 - 1
                                            else secrets.randbits(63))
            if session.origin_address is not None and flags.replace_origin:
                address = session.origin_address
                self.replace(address.start, address.end, self._address(first, first_rtp, False))
            if receiver.sdp_session_name is None:
                receiver.sdp_session_name = session.session_name
            elif flags.replace_session_name and session.session_name_start >= 0:
                self.replace(session.session_name_start, session.session_name_end,
                             receiver.sdp_session_name)
            if session.connection is not None and (flags.replace_session_connection or any(
                    media.connection is None for media in session.medias)):
                address = session.connection
                self.replace(address.start, address.end, self._address(first, first_rtp, True))
            passthrough = any(_passthrough(plan) for plan in plans)
            self._strip(session.attributes,
                        self._session_keep_passthrough if passthrough else self._session_strip)
            self.copy_to(session.end)
            if any(plan.receiver.flags & m.MF_ICE_LITE_SELF and plan.receiver.flags & m.MF_ICE
                   for plan in plans):
                self.lines(["a=ice-lite\r\n"])
            if flags.loop_protect:
                self.lines([f"a=rtpengine:{self.instance_id}\r\n"])
            for media in session.medias:
                plan = plan_of.get(id(media))
                if plan is None:
                    self.copy_to(media.start)
                    self.skip_to(media.end)
                elif media.media_type == "message":
                    self._message(media, session.connection)
                else:
                    self._media(media, plan)
        self.copy_to(self.sdp.end)
        if flags.replace_sdp_version:
            return self._version_check()
        return "".join(self.out)

    def _session_strip(self, attr: s.Attribute) -> bool:
        kind = attr.kind
        if kind in _SESSION_STRIP:
            return True
        if kind in _DIRECTIONS:
            return not self.flags.original_sendrecv
        return kind == s.GROUP and attr.param == "BUNDLE"

    def _session_keep_passthrough(self, attr: s.Attribute) -> bool:
        """Session attributes stripped in pass-through: the party's ICE, DTLS and BUNDLE
        group stay (rtpengine keeps a=group:BUNDLE under ICE=force-relay)."""
        kind = attr.kind
        if kind in _DIRECTIONS:
            return not self.flags.original_sendrecv
        return kind == s.IGNORE

    def _strip(self, attributes: list[s.Attribute], strip: Callable[[s.Attribute], bool]
               ) -> None:
        for attr in attributes:
            if strip(attr):
                self.copy_to(attr.start)
                self.skip_to(attr.end)

    def _media(self, media: s.Media, plan: MediaPlan) -> None:
        receiver = plan.receiver
        rtp = receiver.streams[0] if receiver.streams else None
        legacy = self._legacy_osrtp(media, plan)
        if legacy is not None and not receiver.flags & m.MF_LEGACY_OSRTP_REV:
            self.copy_to(media.start)
            self.out.append(legacy)
        if receiver.type != media.media_type:
            self.replace(media.type_start, media.type_start + len(media.media_type),
                         receiver.type)
        passthrough = _passthrough(plan)
        source = _source(plan, self.flags)
        if media.port:
            port = rtp.selected.port if rtp is not None and rtp.selected is not None else 0
            self.replace(media.port_start, media.port_end,
                         str(source.port if source is not None else port))
            if media.port_count > 1 and rtp is not None and rtp.selected is not None:
                self.out.append(f"/{media.port_count}")
        if passthrough:
            self.copy_to(media.transport_end)
        elif receiver.protocol is not None:
            self.replace(media.transport_start, media.transport_end,
                         transport_protocols.wire_name(receiver.protocol))
        else:
            self.copy_to(media.transport_end)
        if receiver.protocol is not None:
            self.out.append("".join(f" {c.pt}" for c in plan.codecs))
            self.skip_to(media.formats_end)
        else:  # not RTP: the format list as written, spacing and all (``m=application 0 * ``)
            self.copy_to(media.formats_end)
        if media.connection is not None:
            self.replace(media.connection.start, media.connection.end,
                         self._address(plan, rtp, True))
        has_codecs = receiver.protocol is not None and bool(plan.codecs)

        def strip(attr: s.Attribute) -> bool:
            kind = attr.kind
            if passthrough and kind in _PASSTHROUGH_KEEP:
                return self.flags.ice == "force-relay" and _relay_candidate(attr)
            if kind in _MEDIA_STRIP:
                return True
            if kind in _DIRECTIONS:
                return not self.flags.original_sendrecv
            if kind in (s.RTPMAP, s.FMTP):
                return has_codecs
            if kind == s.RTCP_FB:
                return attr.pt >= 0 and has_codecs
            if kind == s.PTIME:
                return bool(receiver.ptime)
            return kind == s.EXTMAP and self.flags.strip_extmap

        self._strip(media.attributes, strip)
        self.copy_to(media.end)
        active = bool(media.port) and rtp is not None and rtp.selected is not None
        self.lines(self._generated(media, plan, active))
        if legacy is not None and receiver.flags & m.MF_LEGACY_OSRTP_REV:
            self.lines([legacy])

    def _message(self, media: s.Media, session_connection: s.Address | None) -> None:
        """``m=message`` (MSRP over TCP) is not relayed: the section stays as the party wrote
        it, its address and port included, with the session's ``c=`` written into it when it
        has none (the session ``c=`` now names rtpgate), as rtpengine does."""
        if media.connection is None and session_connection is not None:
            first = media.attributes[0].start if media.attributes else media.end
            self.copy_to(first)
            self.lines([f"c=IN {session_connection.family} {session_connection.address}\r\n"])
        self.copy_to(media.end)

    def _legacy_osrtp(self, media: s.Media, plan: MediaPlan) -> str | None:
        """Legacy OSRTP (upstream's ``sdp_out_handle_osrtp1/2``): towards a party that sent
        it, its unused plain section comes back rejected (before the SRTP one, or after it
        for ``_REV``); with ``OSRTP=offer-legacy`` an SRTP offer is preceded by the same
        media as plain RTP on the same port (its own ``a=`` lines, no keys)."""
        receiver = plan.receiver
        proto = transport_protocols.get(receiver.protocol)
        if proto is None or not proto.srtp or not media.port or _passthrough(plan):
            return None
        formats = "".join(f" {c.pt}" for c in plan.codecs)
        name = transport_protocols.plain(proto).name
        if receiver.flags & m.MF_LEGACY_OSRTP:
            return f"m={receiver.type} 0 {name}{formats}\r\n"
        if not (self.flags.osrtp_offer_legacy and self.opmode == OFFER):
            return None
        rtp = receiver.streams[0] if receiver.streams else None
        if rtp is None or rtp.selected is None:
            return None
        lines = [f"m={receiver.type} {rtp.selected.port} {name}{formats}\r\n"]
        if media.connection is not None:
            lines.append(f"c=IN {self._address(plan, rtp, True)}\r\n")
        lines += self._generated(media, plan, True, keys=False)
        return "".join(lines)

    def _generated(self, media: s.Media, plan: MediaPlan, active: bool, keys: bool = True
                   ) -> list[str]:
        """The attributes rtpgate writes at the end of a section (without SDES and DTLS
        ones: ``keys=False``, a legacy OSRTP plain section)."""
        receiver = plan.receiver
        flags = self.flags
        mflags = receiver.flags
        out: list[str] = []
        passthrough = _passthrough(plan)
        ice_ok = receiver.ice is not None and not passthrough
        if receiver.media_id is not None:  # a rejected section keeps its a=mid too
            out.append(f"a=mid:{receiver.media_id}\r\n")
        if active:
            rtp_protocol = receiver.protocol is not None
            if rtp_protocol:
                for codec in plan.codecs:
                    if codec.encoding:
                        out.append(f"a=rtpmap:{codec.pt} {codec.encoding}\r\n")
                    if codec.fmtp:
                        out.append(f"a=fmtp:{codec.pt} {codec.fmtp}\r\n")
                    for fb in codec.rtcp_fb:
                        out.append(f"a=rtcp-fb:{codec.pt} {fb}\r\n")
            if not flags.original_sendrecv:
                out.append(direction_attribute(mflags))
            rtcp_stream = self._rtcp(out, plan) if rtp_protocol else None
            if keys and rtp_protocol and mflags & m.MF_SDES \
                    and transport_protocols.is_srtp(receiver.protocol):
                sdes_flags = flags.sdes
                out += [format_crypto(params, pad=sdes_flags.pad, lifetime=sdes_flags.lifetime)
                        for params in receiver.sdes_out]
            if keys and mflags & m.MF_DTLS:
                out += self._dtls(receiver)
            if rtp_protocol and receiver.ptime:
                out.append(f"a=ptime:{receiver.ptime}\r\n")
            if mflags & m.MF_ICE and ice_ok:
                assert receiver.ice is not None
                out.append(f"a=ice-ufrag:{receiver.ice.ufrag}\r\n")
                out.append(f"a=ice-pwd:{receiver.ice.pwd}\r\n")
            if mflags & m.MF_TRICKLE_ICE and ice_ok:
                out.append("a=ice-options:trickle\r\n")
            if mflags & m.MF_ICE:
                for stream in (receiver.streams[0], rtcp_stream):
                    if stream is not None:
                        out += self._candidates(stream, media)
        if passthrough:
            return out  # the party's own a=end-of-candidates stays where it was
        if (mflags & m.MF_TRICKLE_ICE and ice_ok) or media.has(s.END_OF_CANDIDATES):
            out.append("a=end-of-candidates\r\n")
        return out

    def _dtls(self, receiver: m.Media) -> list[str]:
        if self.certificate is None:
            return []
        return dtls_lines(receiver, self.certificate, self.flags.dtls_fingerprint)

    def _rtcp(self, out: list[str], plan: MediaPlan) -> m.Stream | None:
        """rtpengine's ``print_rtcp``; returns the RTCP stream that needs ICE candidates."""
        receiver = plan.receiver
        streams = receiver.streams
        rtp = streams[0]
        rtcp = streams[1] if len(streams) > 1 else None
        mux = bool(receiver.flags & m.MF_RTCP_MUX)
        if mux and (self.opmode == ANSWER or (self.opmode == OFFER
                                              and self.flags.rtcp_mux_require)):
            self._rtcp_attr(out, plan, rtp)
            out.append("a=rtcp-mux\r\n")
            return None
        if rtcp is not None and self.flags.ice != "force-relay":  # 10.5 writes neither then
            self._rtcp_attr(out, plan, rtcp)
            if mux:
                out.append("a=rtcp-mux\r\n")
        return rtcp

    def _rtcp_attr(self, out: list[str], plan: MediaPlan, stream: m.Stream) -> None:
        if self.flags.no_rtcp_attr or stream.selected is None:
            return
        line = f"a=rtcp:{stream.selected.port}"
        if self.flags.full_rtcp_attr:
            line += f" IN {self._address(plan, stream, False)}"
        out.append(line + "\r\n")

    def _candidates(self, stream: m.Stream, source: s.Media | None = None) -> list[str]:
        """rtpgate's candidates for ``stream``: host candidates, or with ``ICE=force-relay`` (and
        in pass-through) relay candidates whose related address is their own, as rtpengine."""
        relay = self.flags.ice == "force-relay"
        type_pref, local_pref = (_RELAY_TYPE_PREF if relay else _HOST_TYPE_PREF), 0
        if stream.media.flags & m.MF_PASSTHRU and source is not None:
            type_pref, local_pref = _just_above(source, "relay" if relay else "host", type_pref)
        return candidate_lines(stream, self.flags.media_address, relay, type_pref, local_pref)

    def _version_check(self) -> str:
        """rtpengine's ``sdp_version_check``: our version in every o= line, raised by one
        whenever the output differs from what this receiver got last time."""
        receiver = self.receiver

        def render() -> str:
            version = str(receiver.sdp_version)
            for slot in self.version_slots:
                self.out[slot] = version
            return "".join(self.out)

        text = render()
        if receiver.last_out_sdp is not None and (
                text != receiver.last_out_sdp or self.flags.force_increment_sdp_version):
            receiver.sdp_version += 1
            text = render()
        receiver.last_out_sdp = text
        return text


def dtls_lines(receiver: m.Media, certificate: Certificate, hash_name: str | None) -> list[str]:
    """``a=setup`` (rtpgate's role) and ``a=fingerprint`` (``hash_name``: the
    ``DTLS-fingerprint`` hash, else the one this party got before, else the party's own, else
    sha-256)."""
    mflags = receiver.flags
    active, passive = mflags & m.MF_DTLS_ACTIVE, mflags & m.MF_DTLS_PASSIVE
    setup = "actpass" if active and passive else "active" if active else "passive"
    hash_name = receiver.fingerprint_hash or hash_name
    if hash_name is None and receiver.dtls is not None and receiver.dtls.fingerprint:
        hash_name = normalize_hash(receiver.dtls.fingerprint[0])
    receiver.fingerprint_hash = hash_name = hash_name or "sha-256"
    name, value = certificate.fingerprint(hash_name)
    return [f"a=setup:{setup}\r\n", f"a=fingerprint:{name} {value}\r\n"]


def candidate_lines(stream: m.Stream, media_address: str | None = None, relay: bool = False,
                    type_pref: int = _HOST_TYPE_PREF, local_pref: int = 0) -> list[str]:
    """``a=candidate`` lines for each of ``stream``'s sockets (RFC 8445 5.1.2.1 priorities, the
    first address preferred), as rtpengine writes them: host candidates, or relay candidates
    whose related address is their own."""
    out = []
    component = stream.component
    for position, media_socket in enumerate(stream.sockets):
        if media_socket.sock is None:
            continue
        local = media_socket.local
        # as rtpengine's unsigned 32-bit arithmetic, a local preference below 0 wraps
        priority = ((type_pref << 24) | ((65535 - local_pref - position) << 8)
                    | (256 - component)) & 0xFFFFFFFF
        address = media_address or local.advertised
        kind = f"relay raddr {address} rport {media_socket.port}" if relay else "host"
        out.append(f"a=candidate:{local.ice_foundation} {component} UDP {priority} "
                   f"{address} {media_socket.port} typ {kind}\r\n")
    return out


def _source(plan: MediaPlan, flags: OfferFlags) -> m.Endpoint | None:
    """With ``ICE=force-relay``, the party's own RTP address (what its SDP said, as rtpengine
    10.5 writes it; a pass-through call made by ``ICE=optional`` gets rtpgate's), else
    ``None``."""
    if flags.ice != "force-relay" or not plan.sender.streams:
        return None
    return plan.sender.streams[0].advertised


def _just_above(media: s.Media, kind: str, type_pref: int) -> tuple[int, int]:
    """rtpengine's ``new_priority``: the type and (inverse) local preference of rtpgate's
    candidates in pass-through, just above the party's own candidates of that type
    (component 1) so that checks prefer the path through rtpgate."""
    local_pref = 0
    best = (type_pref << 24) | (65535 << 8) | 255
    for attr in media.attributes:
        parts = (attr.value or "").split() if attr.kind == s.CANDIDATE else []
        if len(parts) < 8 or parts[1] != "1" or parts[6] != "typ" or parts[7] != kind \
                or not parts[3].isdigit():
            continue
        priority = int(parts[3])
        if priority > best:
            continue
        type_pref = priority >> 24
        local_pref = 65535 - ((priority & 0xFFFF00) >> 8)
        if local_pref:
            local_pref -= 1
        else:
            type_pref, local_pref = max(type_pref - 1, 0), 65535
        best = (type_pref << 24) | ((65535 - local_pref) << 8) | 255
    return type_pref, local_pref


def direction_attribute(flags: int) -> str:
    send, recv = flags & m.MF_SEND, flags & m.MF_RECV
    if send and recv:
        return "a=sendrecv\r\n"
    if send:
        return "a=sendonly\r\n"
    if recv:
        return "a=recvonly\r\n"
    return "a=inactive\r\n"


def rewrite(sdp: s.Sdp, plans: list[MediaPlan], receiver: m.Monologue, flags: OfferFlags,
            opmode: str, instance_id: str, certificate: Certificate | None = None) -> str:
    return Rewriter(sdp, plans, receiver, flags, opmode, instance_id, certificate).run()
