"""What each ``m=`` section of an incoming SDP asks for (rtpengine's ``sdp_streams``).

Addresses come from the media or session ``c=`` line, or from ``received-from`` when the
``SIP-source-address`` flag says not to trust the SDP.  RTCP goes to the ``a=rtcp`` port (and
address) or implicitly to RTP + 1; ``a=rtcp-mux`` or an ``a=rtcp`` equal to the RTP port means
multiplexing.  Direction attributes count at media level first, then session level, with
``recvonly`` before ``sendonly`` before ``inactive`` as rtpengine checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import codecs as cd
from . import sdp as s
from . import transport_protocols
from .flags import OfferFlags, protocol_name
from .model import DtlsState, Endpoint, RemoteIce
from .sdes import CryptoParams, InvalidCrypto, usable


class IncompleteSdp(Exception):  # noqa: N818 - rtpengine's "Incomplete SDP specification"
    """The SDP parses but lacks what a stream needs (an address, valid payload types)."""


class Unsupported(Exception):  # noqa: N818 - an answer to the client
    """The SDP needs something rtpgate does not do (SRTP over TCP), or carries an
    ``a=crypto`` it cannot use; ``reason`` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class StreamParams:
    index: int
    session: s.Session
    media: s.Media
    type: str
    protocol: str | None
    protocol_str: str
    consecutive: int
    rtp_endpoint: Endpoint
    rtcp_endpoint: Endpoint | None
    implicit_rtcp: bool
    rtcp_mux: bool
    send: bool
    recv: bool
    ptime: int
    codecs: list[cd.Codec] = field(default_factory=list)
    ice: bool = False
    trickle_ice: bool = False
    ice_lite_peer: bool = False
    media_id: str | None = None
    end_of_candidates: bool = False
    #: The party's ICE credentials and candidates (when it has ICE).
    remote_ice: RemoteIce | None = None
    #: The party's ``a=fingerprint`` and ``a=setup`` (when it offers DTLS).
    dtls: DtlsState | None = None
    #: The party's ``a=crypto`` lines (SDES keys it sends with), usable ones only.
    sdes: list[CryptoParams] = field(default_factory=list)
    #: Legacy OSRTP taken as one media: the section left out (not rewritten for the receiver)
    dropped: s.Media | None = None
    #: ... and the party sent it as legacy OSRTP (``MF_LEGACY_OSRTP``), SRTP section first
    #: (``MF_LEGACY_OSRTP_REV``)
    legacy_osrtp: bool = False
    legacy_osrtp_rev: bool = False

    @property
    def num_ports(self) -> int:
        return self.consecutive * 2


def _endpoint(flags: OfferFlags, media: s.Media, session: s.Session,
              address: s.Address | None, port: int) -> Endpoint:
    if not flags.trust_address and flags.received_from is not None:
        family, addr = flags.received_from
        return Endpoint(family, addr, port)
    if not flags.trust_address:
        raise IncompleteSdp("no received-from address")
    if address is not None and not address.unspecified:
        return Endpoint(address.family, address.address, port)
    connection = media.connection or session.connection
    if connection is None:
        raise IncompleteSdp("no address for stream")
    return Endpoint(connection.family, connection.address, port)


def _direction(media: s.Media, session: s.Session) -> tuple[bool, bool]:
    def has(kind: int) -> bool:
        return kind in media.kinds or kind in session.kinds

    if has(s.RECVONLY):
        return False, True
    if has(s.SENDONLY):
        return True, False
    if has(s.INACTIVE):
        return False, False
    return True, True


def check_supported(sdp: s.Sdp) -> None:
    """Refuse an SDP that needs SRTP over TCP, before anything changes."""
    for session in sdp.sessions:
        for media in session.medias:
            if media.transport.upper() in transport_protocols.UNSUPPORTED:
                raise Unsupported(f"SRTP over TCP is not supported (transport protocol "
                                  f"{media.transport})")


def _crypto(media: s.Media) -> list[CryptoParams]:
    """The usable ``a=crypto`` lines of a media (see :mod:`rtpgate.engine.sdes`)."""
    lines = [a.value or "" for a in media.attributes if a.kind == s.CRYPTO]
    if not lines:
        return []
    try:
        found = usable(lines)
    except InvalidCrypto as exc:
        raise Unsupported(f"Invalid a=crypto attribute: {exc}") from None
    if not found:
        names = ", ".join(line.split()[1] if len(line.split()) > 1 else "?" for line in lines)
        raise Unsupported(f"Invalid a=crypto attribute: unknown crypto suite ({names})")
    return found


def _dtls(media: s.Media, session: s.Session) -> DtlsState | None:
    """``a=fingerprint:HASH VALUE`` and ``a=setup`` at media, else session level."""
    attr = media.first(s.FINGERPRINT) or session.first(s.FINGERPRINT)
    if attr is None or not attr.value:
        return None
    hash_name, _, value = attr.value.strip().partition(" ")
    setup = media.first(s.SETUP) or session.first(s.SETUP)
    return DtlsState((hash_name.lower(), value.strip().upper()),
                     (setup.value or "").strip().lower() if setup is not None else None)


def stream_params(sdp: s.Sdp, flags: OfferFlags) -> list[StreamParams]:
    out: list[StreamParams] = []
    index = 0
    for session in sdp.sessions:
        for media in session.medias:
            index += 1
            sp = _one(index, session, media, flags)
            if flags.osrtp_accept_legacy and out and _legacy_osrtp(sp, out):
                index -= 1
                continue
            out.append(sp)
    return out


def _legacy_osrtp(sp: StreamParams, out: list[StreamParams]) -> bool:
    """Legacy OSRTP (upstream's ``legacy_osrtp_accept``): a plain and an SRTP section of the
    same type next to each other are one media.  The SRTP one is used unless it is rejected and
    the plain one is not.  True: ``sp`` is not a media of its own (``out`` changed)."""
    last = out[-1]
    here, before = transport_protocols.get(sp.protocol), transport_protocols.get(last.protocol)
    if here is None or before is None or sp.type != last.type:
        return False
    if here.srtp and not before.srtp:
        if sp.rtp_endpoint.port:  # plain, then SRTP: the SRTP section is the media
            sp.index, sp.dropped, sp.legacy_osrtp = last.index, last.media, True
            out[-1] = sp
            return True
        if last.rtp_endpoint.port:  # the SRTP section rejected: the plain one is the media
            last.dropped = sp.media
            return True
    elif not here.srtp and before.srtp and last.rtp_endpoint.port:  # SRTP first
        last.dropped, last.legacy_osrtp, last.legacy_osrtp_rev = sp.media, True, True
        return True
    return False


def _one(index: int, session: s.Session, media: s.Media, flags: OfferFlags) -> StreamParams:
    rtp = _endpoint(flags, media, session, None, media.port)
    protocol = protocol_name(media.transport)
    sdes = _crypto(media)
    known = transport_protocols.get(protocol)
    if known is not None and not known.srtp and sdes:
        protocol = transport_protocols.osrtp(known).key  # RFC 8643: a=crypto on RTP/AVP
    codecs: list[cd.Codec] = []
    if protocol is not None:
        try:
            codecs = cd.from_media(media)
        except cd.InvalidPayloadType as exc:
            raise IncompleteSdp(f"invalid payload type {exc}") from None
    send, recv = _direction(media, session)
    ptime_attr = media.first(s.PTIME)
    ptime = 0
    if ptime_attr is not None and ptime_attr.value:
        digits = ""
        for ch in ptime_attr.value:
            if not ch.isdigit():
                break
            digits += ch
        ptime = int(digits) if digits else 0
    ufrag = media.first(s.ICE_UFRAG) or session.first(s.ICE_UFRAG)
    trickle = False
    options = media.first(s.ICE_OPTIONS)
    if options is not None:
        trickle = "trickle" in (options.value or "")
    mid = media.first(s.MID)
    remote_ice = None
    if ufrag is not None:
        pwd = media.first(s.ICE_PWD) or session.first(s.ICE_PWD)
        remote_ice = RemoteIce(ufrag.value, pwd.value if pwd is not None else None,
                               [a.value for a in media.attributes
                                if a.kind == s.CANDIDATE and a.value],
                               media.has(s.ICE_LITE) or session.has(s.ICE_LITE))
    params = StreamParams(
        index=index, session=session, media=media, type=media.media_type, protocol=protocol,
        protocol_str=media.transport, consecutive=media.port_count, rtp_endpoint=rtp,
        rtcp_endpoint=None, implicit_rtcp=False, rtcp_mux=False, send=send, recv=recv,
        ptime=ptime, codecs=codecs, ice=ufrag is not None, trickle_ice=trickle,
        ice_lite_peer=media.has(s.ICE_LITE), media_id=mid.value if mid is not None else None,
        end_of_candidates=media.has(s.END_OF_CANDIDATES), remote_ice=remote_ice,
        dtls=_dtls(media, session), sdes=sdes)
    rtcp = media.first(s.RTCP)
    if media.has(s.RTCP_MUX):
        params.rtcp_mux = True
        if rtcp is not None and media.port_count == 1:
            params.rtcp_endpoint = _endpoint(flags, media, session, rtcp.rtcp_address,
                                             rtcp.rtcp_port)
        return params
    if rtcp is None or media.port_count != 1:
        params.implicit_rtcp = True
        return params
    if rtcp.rtcp_port == rtp.port and not (rtp.port == 9 and rtp.address in ("0.0.0.0", "::")):
        # the same port means rtcp-mux, except trickle ICE's placeholder 0.0.0.0:9 (RFC 8840)
        params.rtcp_mux = True
        return params
    params.rtcp_endpoint = _endpoint(flags, media, session, rtcp.rtcp_address, rtcp.rtcp_port)
    return params
