"""The options of one offer or answer, gathered from the request's keys and ``flags`` list.

rtpengine reads the same setting from several places (``"codec": {"strip": ["PCMA"]}`` and the
flag ``codec-strip-PCMA``; ``"replace": ["origin"]`` and ``replace-origin``); this module folds
them into one :class:`OfferFlags`.  Flag names are compared with ``-``, ``_`` and space alike
and case-insensitively.  Requests for what rtpgate does not implement (SRTP over TCP,
transcoding, T.38) are collected in :attr:`OfferFlags.unsupported` so the command can
refuse them before it changes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..media.dtls import normalize_hash
from . import transport_protocols
from .codecs import CodecRequest
from .requests import OfferRequest
from .sdes import SdesFlags
from .sdp import parse_ip

log = logging.getLogger("rtpgate.engine")

def protocol_name(text: str) -> str | None:
    """The key of a known RTP transport protocol (case-insensitive), see
    :mod:`rtpgate.engine.transport_protocols`."""
    proto = transport_protocols.lookup(text)
    return proto.key if proto is not None else None


def norm(flag: str) -> str:
    return flag.replace("_", "-").replace(" ", "-").lower()


@dataclass(slots=True)
class OfferFlags:
    opmode: str  #: ``offer`` or ``answer``
    trust_address: bool = True
    asymmetric: bool = False
    unidirectional: bool = False
    strict_source: bool = False
    media_handover: bool = False
    port_latching: bool = False
    no_port_latching: bool = False
    original_sendrecv: bool = False
    no_rtcp_attr: bool = False
    full_rtcp_attr: bool = False
    loop_protect: bool = False
    #: ``record call`` / the ``record-call`` and ``discard-recording`` flags: ``start``,
    #: ``stop`` or ``discard`` (:data:`RECORD_CALL`); None: unchanged.
    record_call: str | None = None
    discard_recording: bool = False
    generate_mid: bool = False
    reset: bool = False
    replace_origin: bool = False
    replace_username: bool = False
    replace_session_name: bool = False
    #: ``replace: session-connection``: the session ``c=`` is rewritten even when every
    #: media section has its own (rtpengine's ``replace_sess_conn``).
    replace_session_connection: bool = False
    replace_sdp_version: bool = False
    force_increment_sdp_version: bool = False
    replace_zero_address: bool = False
    #: ``default``, ``remove``, ``force`` (``optional`` too) or ``force-relay``
    ice: str = "default"
    trickle_ice: bool = False
    #: ``DTLS=``: ``off``, ``passive``, ``active`` (None: rtpengine's default behaviour).
    dtls: str | None = None
    #: ``DTLS-reverse=``: the role towards the offerer in the answer (``passive``/``active``).
    dtls_reverse: str | None = None
    #: ``DTLS-fingerprint=``: the hash of our ``a=fingerprint`` (``sha-256`` ...).
    dtls_fingerprint: str | None = None
    strip_extmap: bool = False
    #: ``inject DTMF``: the parties of this offer/answer take ``play DTMF`` without transcoding
    inject_dtmf: bool = False
    #: ``ICE-lite=``: ``forward`` (towards the offer's receiver), ``backward`` (towards the
    #: offerer), ``both``; None or ``off``: a full agent both ways.
    ice_lite: str | None = None
    #: ``reject ICE`` (``ICE-reject``, ...): the offerer's media loses ICE, so the answer to it
    #: carries none and no agent runs towards it; the offer keeps what ``ICE=`` gives it.
    ice_reject: bool = False
    #: ``fragment``: the SDP is a trickle-ICE fragment (:mod:`rtpgate.engine.trickle`).
    fragment: bool = False
    transport_protocol: str | None = None
    rtcp_mux_offer: bool = False
    rtcp_mux_require: bool = False
    rtcp_mux_demux: bool = False
    rtcp_mux_accept: bool = False
    rtcp_mux_reject: bool = False
    direction: tuple[str | None, str | None] = (None, None)
    address_family: str | None = None
    media_address: str | None = None  #: canonical IP text
    media_address_family: str | None = None
    received_from: tuple[str, str] | None = None  #: (family, address)
    codec: CodecRequest = field(default_factory=CodecRequest)
    ptime: int = 0
    ptime_reverse: int = 0
    label: str | None = None
    via_branch: str | None = None
    supports_load_limit: bool = False
    #: ``SDES``/``SDES-*`` options (``sdes.off``: SDES-off)
    sdes: SdesFlags = field(default_factory=SdesFlags)
    osrtp_offer: bool = False
    osrtp_accept: bool = False
    #: ``OSRTP=offer-legacy``: an SRTP offer also offers plain RTP as its own ``m=`` section
    osrtp_offer_legacy: bool = False
    #: ``OSRTP=accept-legacy`` (and ``accept``): a plain and an SRTP section of one media
    #: (legacy OSRTP) are taken as that one media
    osrtp_accept_legacy: bool = False
    unsupported: list[str] = field(default_factory=list)


def _codec_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return []


def _escape(name: str) -> str:
    """rtpengine's ``str_dup_escape``: ``--`` means ``=`` and ``..`` means a space."""
    return name.replace("--", "=").replace("..", " ")


def _replace(flags: OfferFlags, item: str) -> None:
    key = norm(item)
    if key in ("origin", "origin-full"):
        flags.replace_origin = True
    elif key == "username":
        flags.replace_username = True
    elif key == "session-name":
        flags.replace_session_name = True
    elif key == "session-connection":
        flags.replace_session_connection = True
    elif key == "sdp-version":
        flags.replace_sdp_version = True
    elif key == "force-increment-sdp-ver":
        flags.force_increment_sdp_version = True
        flags.replace_sdp_version = True
    elif key == "zero-address":
        flags.replace_zero_address = True


def _rtcp_mux(flags: OfferFlags, item: str) -> None:
    key = norm(item)
    if key == "offer":
        flags.rtcp_mux_offer = True
    elif key == "require":
        flags.rtcp_mux_offer = flags.rtcp_mux_require = True
    elif key == "demux":
        flags.rtcp_mux_demux = True
    elif key == "accept":
        flags.rtcp_mux_accept = True
    elif key == "reject":
        flags.rtcp_mux_reject = True


_PREFIXES = ("codec-strip-", "codec-offer-", "codec-mask-", "codec-except-", "codec-transcode-",
             "transcode-", "codec-consume-", "codec-accept-", "codec-set-", "codec-ignore-",
             "replace-", "rtcp-mux-", "sdes-", "osrtp-", "t38-", "t.38-")


def _flag(flags: OfferFlags, item: str) -> None:
    key = norm(item)
    simple = _SIMPLE_FLAGS.get(key)
    if simple is not None:
        setattr(flags, simple, True)
        return
    if key == "sip-source-address":
        flags.trust_address = False
    elif key == "symmetric":
        flags.asymmetric = False
    elif key == "record-call":
        flags.record_call = "start"
    elif key == "discard-recording":
        flags.discard_recording = True
    elif key in ("always-transcode", "force-transcoding"):
        flags.codec.always_transcode = True
    elif key == "single-codec":
        flags.codec.single_codec = True
    elif key == "webrtc":
        _webrtc(flags)
    elif key == "pad-crypto":
        flags.sdes.pad = True
    else:
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                _prefixed(flags, prefix, _escape(item[len(prefix):]))
                return


def _prefixed(flags: OfferFlags, prefix: str, rest: str) -> None:
    codec = flags.codec
    if prefix == "codec-strip-":
        codec.strip.append(rest)
    elif prefix == "codec-offer-":
        codec.offer.append(rest)
    elif prefix == "codec-mask-":
        codec.mask.append(rest)
    elif prefix == "codec-except-":
        codec.except_.append(rest)
    elif prefix in ("codec-transcode-", "transcode-"):
        codec.transcode.append(rest)
    elif prefix == "codec-consume-":
        codec.consume.append(rest)
    elif prefix == "codec-accept-":
        codec.accept.append(rest)
    elif prefix == "codec-set-":
        codec.set.append(rest)
    elif prefix == "codec-ignore-":
        codec.ignore.append(rest)
    elif prefix == "replace-":
        _replace(flags, rest)
    elif prefix == "rtcp-mux-":
        _rtcp_mux(flags, rest)
    elif prefix == "sdes-":
        _sdes(flags, [rest])
    elif prefix == "osrtp-":
        _osrtp(flags, [rest])
    elif prefix in ("t38-", "t.38-"):
        _t38(flags, [rest])


def _webrtc(flags: OfferFlags) -> None:
    """rtpengine's ``WebRTC`` shorthand: ``UDP/TLS/RTP/SAVPF``, ``ICE=force``, trickle ICE,
    ``rtcp-mux-offer``, ``rtcp-mux-require``, ``no-rtcp-attribute``, ``SDES-off``,
    ``generate-mid``."""
    flags.transport_protocol = "UDP/TLS/RTP/SAVPF"
    flags.ice = "force"
    flags.trickle_ice = True
    flags.rtcp_mux_offer = flags.rtcp_mux_require = True
    flags.no_rtcp_attr = True
    flags.sdes.off = True
    flags.generate_mid = True


def _sdes(flags: OfferFlags, items: Iterable[str]) -> None:
    for item in items:
        if not flags.sdes.option(_escape(item)):
            log.warning("Unknown 'SDES' flag encountered: '%s'", item)


def _osrtp(flags: OfferFlags, items: Iterable[str]) -> None:
    for item in items:
        key = norm(item)
        if key in ("offer", "offer-rfc"):
            flags.osrtp_offer = True
        elif key == "accept-rfc":
            flags.osrtp_accept = True
        elif key == "accept":  # upstream: both kinds
            flags.osrtp_accept = flags.osrtp_accept_legacy = True
        elif key == "accept-legacy":
            flags.osrtp_accept_legacy = True
        elif key == "offer-legacy":
            flags.osrtp_offer_legacy = True
        else:
            log.warning("Unknown 'OSRTP' flag encountered: '%s'", item)


def _t38(flags: OfferFlags, items: Iterable[str]) -> None:
    for item in items:
        if norm(item) in ("decode", "force"):
            flags.unsupported.append(f"T.38 gateway is not supported (T.38 '{item}')")


_SIMPLE_FLAGS = {
    "trust-address": "trust_address", "asymmetric": "asymmetric",
    "unidirectional": "unidirectional", "strict-source": "strict_source",
    "media-handover": "media_handover", "port-latching": "port_latching",
    "no-port-latching": "no_port_latching", "original-sendrecv": "original_sendrecv",
    "no-rtcp-attribute": "no_rtcp_attr", "full-rtcp-attribute": "full_rtcp_attr",
    "loop-protect": "loop_protect", "generate-mid": "generate_mid", "reset": "reset",
    "trickle-ice": "trickle_ice", "strip-extmap": "strip_extmap",
    "fragment": "fragment", "reject-ice": "ice_reject", "ice-reject": "ice_reject",
    "inject-dtmf": "inject_dtmf",
}


def offer_flags(request: OfferRequest, opmode: str, peer_address: str | None) -> OfferFlags:
    """Fold ``request`` into :class:`OfferFlags`; ``peer_address`` (the control client's IP)
    stands in for ``received-from`` as rtpengine's does."""
    flags = OfferFlags(opmode)
    for item in request.flags:
        _flag(flags, item)
    for item in request.replace:
        _replace(flags, item)
    for item in request.rtcp_mux:
        _rtcp_mux(flags, item)
    _sdes(flags, request.sdes)
    _osrtp(flags, request.osrtp)
    _t38(flags, request.t38)
    _dtls(flags, request)
    codec = flags.codec
    for key, value in request.codec.items():
        names = [_escape(n) for n in _codec_list(value)]
        if key == "strip":
            codec.strip += names
        elif key == "offer":
            codec.offer += names
        elif key == "mask":
            codec.mask += names
        elif key == "except":
            codec.except_ += names
        elif key == "transcode" and opmode == "offer":
            codec.transcode += names
        elif key == "consume":
            codec.consume += names
        elif key == "accept":
            codec.accept += names
        elif key == "set":
            codec.set += names
        elif key == "ignore":
            codec.ignore += names
    if opmode != "offer":
        codec.transcode = []
        codec.mask = []
    _ice(flags, request.ice)
    if request.ice_lite is not None and norm(request.ice_lite) in ("forward", "backward",
                                                                    "both"):
        flags.ice_lite = norm(request.ice_lite)
    if request.transport_protocol is not None:
        _transport(flags, request.transport_protocol)
    direction: list[str | None] = [*request.direction[:2], None, None]
    from_if = request.from_interface or direction[0] or request.interface
    to_if = request.to_interface or direction[1] or request.interface
    flags.direction = (from_if or None, to_if or None)
    if request.address_family in ("IP4", "IP6"):
        flags.address_family = request.address_family
    _media_address(flags, request.media_address)
    _received_from(flags, request.received_from, peer_address)
    _record_call(flags, request.record_call)
    if opmode == "offer":
        flags.ptime = max(request.ptime or 0, 0)
        flags.ptime_reverse = max(request.ptime_reverse or 0, 0)
    flags.label = request.label or None
    flags.via_branch = request.via_branch or None
    flags.supports_load_limit = "load limit" in request.supports
    return flags


def _record_call(flags: OfferFlags, value: str | None) -> None:
    """rtpengine's ``detect_setup_recording``: ``yes``/``on`` (or the ``record-call`` flag)
    start, ``no``/``off`` stop, ``discard`` (or the ``discard-recording`` flag) stops and
    discards what was recorded; any other value is only logged."""
    word = (value or "").lower()
    if word in ("yes", "on") or flags.record_call == "start":
        flags.record_call = "start"
    elif word in ("no", "off"):
        flags.record_call = "stop"
    elif word == "discard" or flags.discard_recording:
        flags.record_call = "discard"
    elif word:
        log.info('"record-call" flag %s is invalid flag.', value)


def _ice(flags: OfferFlags, value: str | None) -> None:
    if value is None:
        return
    key = norm(value)
    if key in ("remove", "force", "default", "force-relay"):
        flags.ice = key
    elif key == "optional":
        # rtpengine 10.5: towards a party without ICE the same SDP as ICE=force; between two
        # ICE parties pass-through (negotiate.py)
        flags.ice = "optional"


def _dtls(flags: OfferFlags, request: OfferRequest) -> None:
    """``DTLS``, ``DTLS-reverse`` and ``DTLS-fingerprint`` (unknown values are ignored, as
    rtpengine ignores them)."""
    if request.dtls is not None:
        key = norm(request.dtls)
        if key in ("no", "off", "disabled", "disable"):
            flags.dtls = "off"
        elif key in ("passive", "active"):
            flags.dtls = key
    reverse = request.dtls_reverse
    if reverse is not None and norm(reverse) in ("passive", "active"):
        flags.dtls_reverse = norm(reverse)
    if request.dtls_fingerprint:
        flags.dtls_fingerprint = normalize_hash(request.dtls_fingerprint)


def _transport(flags: OfferFlags, value: str) -> None:
    if value == "accept":
        return
    if value.upper() in transport_protocols.UNSUPPORTED:
        flags.unsupported.append(f"SRTP over TCP is not supported (transport protocol {value})")
        return
    flags.transport_protocol = protocol_name(value)


def _media_address(flags: OfferFlags, value: str | None) -> None:
    if not value:
        return
    for family in ("IP4", "IP6"):
        canonical = parse_ip(family, value)
        if canonical is not None:
            flags.media_address, flags.media_address_family = canonical, family
            return


def _received_from(flags: OfferFlags, value: list[str], peer: str | None) -> None:
    if len(value) >= 2 and value[0] in ("IP4", "IP6"):
        canonical = parse_ip(value[0], value[1])
        if canonical is not None:
            flags.received_from = (value[0], canonical)
            return
    if len(value) == 1:  # rtpengine also takes a bare address string
        for family in ("IP4", "IP6"):
            canonical = parse_ip(family, value[0])
            if canonical is not None:
                flags.received_from = (family, canonical)
                return
    if peer:
        for family in ("IP4", "IP6"):
            canonical = parse_ip(family, peer)
            if canonical is not None:
                flags.received_from = (family, canonical)
                return
