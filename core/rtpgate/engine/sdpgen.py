"""SDPs rtpgate makes itself (rtpengine's ``sdp_create``): the answer to a ``publish`` and the
offer of a ``subscribe request``.

One media section per media of the monologue, in order: ``m=`` with the media's first port and
codecs, ``c=`` with the interface's advertised address, then ``a=label`` (SIPREC
subscriptions), the codecs' ``a=rtpmap``/``a=fmtp``/``a=rtcp-fb``, the direction, ``a=rtcp``
(and ``a=rtcp-mux``), the SDES ``a=crypto`` lines, DTLS's ``a=setup``/``a=fingerprint`` and
ICE's credentials and host candidates, as rtpengine writes them.  The session section is
``o=- ID VERSION IN IP4 ADDR``, ``s=`` the ``--software-id`` and ``t=0 0``; a subscription to
a single party keeps that party's own session section instead (rtpengine 10.5 rewrites the
party's SDP in that case), with its ``c=`` pointing at rtpgate.
"""

from __future__ import annotations

import time

from ..media.dtls import Certificate
from . import model as m
from . import transport_protocols
from .flags import OfferFlags
from .ports import MediaSocket
from .rewrite import candidate_lines, direction_attribute, dtls_lines
from .sdes import format_crypto

#: Session-level attributes of a party's SDP that do not describe rtpgate's side.
_PARTY_ONLY = ("a=ice-", "a=fingerprint", "a=setup", "a=tls-id", "a=group", "a=rtpengine:")


def create_sdp(ml: m.Monologue, flags: OfferFlags, software_id: str,
               mirrored: str | None = None, certificate: Certificate | None = None,
               offer: bool = False) -> str:
    """The SDP of ``ml``'s medias; ``software_id``: what its ``s=`` says (``--software-id``);
    ``offer``: a subscription's offer (an offered rtcp-mux names the RTCP port, as rtpengine's
    offers do), else an answer; ``certificate``: the one whose fingerprint a DTLS-SRTP media
    shows."""
    first = _first_socket(ml)
    family = first.local.family if first is not None else "IP4"
    address = flags.media_address or (first.local.advertised if first is not None
                                      else "0.0.0.0")
    session = _session(mirrored, family, address) if mirrored else None
    if session is None:
        if not ml.sdp_session_id:
            now = time.time()
            ml.sdp_session_id = int(now) << 32 | int(now % 1 * 1_000_000)
            ml.sdp_version = ml.sdp_session_id
        session = (f"v=0\r\no=- {ml.sdp_session_id} {ml.sdp_version} IN {family} {address}\r\n"
                   f"s={software_id}\r\nt=0 0\r\n")
    # a party's session section with its own c= covers every media (rtpengine's rewrite)
    media_c = "\r\nc=" not in "\r\n" + session
    return session + "".join(_media(media, flags, media_c, certificate, offer)
                             for media in ml.medias)


def _first_socket(ml: m.Monologue) -> MediaSocket | None:
    for media in ml.medias:
        if media.streams and media.streams[0].selected is not None:
            return media.streams[0].selected
    return None


def _session(text: str, family: str, address: str) -> str | None:
    """The session section of a party's SDP, ``c=`` replaced by rtpgate's address."""
    head = text.replace("\r\n", "\n").split("\nm=", 1)[0]
    lines = [line for line in head.split("\n") if line]
    if not lines or lines[0] != "v=0":
        return None
    out = []
    for line in lines:
        if line.startswith("c="):
            out.append(f"c=IN {family} {address}")
        elif not line.startswith(_PARTY_ONLY):
            out.append(line)
    return "\r\n".join(out) + "\r\n"


def _media(media: m.Media, flags: OfferFlags, media_c: bool, certificate: Certificate | None,
           offer: bool) -> str:
    rtp = media.streams[0] if media.streams else None
    selected = rtp.selected if rtp is not None else None
    port = selected.port if selected is not None else 0
    proto = (transport_protocols.wire_name(media.protocol) if media.protocol is not None
             else media.protocol_str)
    formats = " ".join(str(c.pt) for c in media.codecs) if media.protocol is not None else "*"
    out = [f"m={media.type} {port} {proto} {formats}\r\n"]
    if selected is None:
        return "".join(out)
    if media_c:
        address = flags.media_address or selected.local.advertised
        out.append(f"c=IN {selected.local.family} {address}\r\n")
    if media.label is not None:
        out.append(f"a=label:{media.label}\r\n")
    if media.media_id is not None:
        out.append(f"a=mid:{media.media_id}\r\n")
    if media.protocol is None:
        out.append(direction_attribute(media.flags))
        return "".join(out)
    for codec in media.codecs:
        if codec.encoding:
            out.append(f"a=rtpmap:{codec.pt} {codec.encoding}\r\n")
        if codec.fmtp:
            out.append(f"a=fmtp:{codec.pt} {codec.fmtp}\r\n")
        for fb in codec.rtcp_fb:
            out.append(f"a=rtcp-fb:{codec.pt} {fb}\r\n")
    out.append(direction_attribute(media.flags))
    rtcp = media.streams[1] if len(media.streams) > 1 else None
    rtcp_port = rtcp.selected.port if rtcp is not None and rtcp.selected is not None else None
    # an offer that only offers rtcp-mux keeps the RTCP port (and its candidates) in case the
    # answer declines it; a required one, or an answer, has none (rtpengine's print_rtcp)
    mux_offered = offer and not flags.rtcp_mux_require
    if media.flags & m.MF_RTCP_MUX:
        if not flags.no_rtcp_attr:
            out.append(f"a=rtcp:{rtcp_port if mux_offered and rtcp_port else port}\r\n")
        out.append("a=rtcp-mux\r\n")
    elif rtcp is not None and rtcp.selected is not None and not flags.no_rtcp_attr:
        out.append(f"a=rtcp:{rtcp.selected.port}\r\n")
    if media.flags & m.MF_SDES and transport_protocols.is_srtp(media.protocol):
        out += [format_crypto(params, pad=flags.sdes.pad, lifetime=flags.sdes.lifetime)
                for params in media.sdes_out]
    if media.flags & m.MF_DTLS and certificate is not None:
        out += dtls_lines(media, certificate, flags.dtls_fingerprint)
    if media.ptime:
        out.append(f"a=ptime:{media.ptime}\r\n")
    if media.flags & m.MF_ICE and media.ice is not None:
        out.append(f"a=ice-ufrag:{media.ice.ufrag}\r\n")
        out.append(f"a=ice-pwd:{media.ice.pwd}\r\n")
        trickle = bool(media.flags & m.MF_TRICKLE_ICE)
        if trickle:
            out.append("a=ice-options:trickle\r\n")
        for stream in media.streams[:1 if media.flags & m.MF_RTCP_MUX and not mux_offered
                                    else 2]:
            out += candidate_lines(stream, flags.media_address)
        if trickle:
            out.append("a=end-of-candidates\r\n")
    return "".join(out)
