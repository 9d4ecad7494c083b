"""Publish/subscribe: ``publish``, ``subscribe request``, ``subscribe answer``, ``unsubscribe``.

rtpengine's model (``monologue_publish``, ``monologue_subscribe_request``/``_answer``,
``monologue_unsubscribe`` in ``daemon/call.c``): a *publisher* is a monologue whose party only
sends; rtpgate answers it with an SDP of its own (recvonly, one codec per media).  A
*subscriber* is a monologue made by ``subscribe request`` for one or more sources (offer/answer
parties or publishers): one media per source media, in order, each with its own ports, its
``source`` pointing at the media it copies; the reply is a sendonly offer rtpgate makes.  Its
party's answer (``subscribe answer``) gives the endpoint, its codec and, over SDES-SRTP, its key;
from then on the relay copies every packet of the source media to it (docs/media.md).
``unsubscribe`` ends the copies and returns the subscriber's ports; the monologue stays, so its
tag can subscribe again.

As with offers, everything that can fail (keys, SDP, codecs, ports) is decided before anything
changes: a refused request leaves no monologue, media or port behind.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..ngcommands.command import LoadLimit, NgError, Reply
from . import codecs as cd
from . import model as m
from . import sdes, transport_protocols
from .flags import OfferFlags, norm, offer_flags
from .interfaces import LogicalInterface
from .negotiate import (
    OFFER,
    OutOfPorts,
    _allocate,
    _assign,
    _fill,
    _num_streams,
    _remember_party,
    new_ice_credentials,
)
from .params import IncompleteSdp, StreamParams, Unsupported, check_supported, stream_params
from .party import party
from .ports import MediaSocket
from .requests import (
    PublishRequest,
    SubscribeAnswerRequest,
    SubscribeRequest,
    UnsubscribeRequest,
)
from .sdpgen import create_sdp
from .signalling import parse_request, proxy_name

if TYPE_CHECKING:
    from .engine import Engine

#: Codecs a publisher may be answered with when no media plugin says what it can decode (the
#: ones rtpengine itself knows), besides the static payload types.
KNOWN_CODECS = frozenset({"opus", "g722", "g729", "g723", "speex", "ilbc", "amr", "amr-wb",
                          "evs", "gsm", "l16", "g726-32", "pcmu", "pcma", "vp8", "vp9",
                          "h264", "h263", "av1"})


@dataclass(slots=True)
class _Media:
    """One media planned by a request, with the ports it took (released if the request
    fails)."""

    media: m.Media
    new: bool
    sets: list[list[MediaSocket]] | None = None
    interface: LogicalInterface | None = None
    num_ports: int = 2
    codecs: list[cd.Codec] = field(default_factory=list)


def _release(planned: list[_Media]) -> None:
    for item in planned:
        for run in item.sets or ():
            for media_socket in run:
                media_socket.release()
        item.sets = None


def _params(request: PublishRequest | SubscribeAnswerRequest, flags: OfferFlags, engine: Engine
            ) -> list[StreamParams]:
    sdp = parse_request(request, flags, engine.settings)
    try:
        check_supported(sdp)
        params = stream_params(sdp, flags)
    except Unsupported as exc:
        raise NgError(exc.reason) from None
    except IncompleteSdp:
        raise NgError("Incomplete SDP specification") from None
    if not params:
        raise NgError("Incomplete SDP specification")
    return params


def _supported(codec: cd.Codec, engine: Engine) -> bool:
    if codec.supplemental or not codec.encoding:
        return False
    if engine.codec_support:
        return engine.codec_support.can_decode(codec.encoding)
    return codec.name in KNOWN_CODECS


def accept_one(codecs: list[cd.Codec], accept: list[str], engine: Engine) -> cd.Codec | None:
    """rtpengine's ``codec_store_accept_one``: the first of ``accept`` the party offered, else
    its first codec rtpgate knows (``any`` in ``accept``: its first codec whatever it is)."""
    for wanted in accept:
        if wanted.lower() == "any":
            return next((c for c in codecs if not c.supplemental), None)
        found = next((c for c in codecs if c.matches(wanted)), None)
        if found is not None:
            return found
    return next((c for c in codecs if _supported(c, engine)), None)


# ----------------------------------------------------------------------------- publish

def publish(engine: Engine, request: PublishRequest, peer: tuple[str, int] | None) -> Reply:
    """A party publishes what it sends: its monologue gets ports, rtpgate answers."""
    flags = offer_flags(request, OFFER, peer[0] if peer else None)
    params = _params(request, flags, engine)
    call = engine.by_id.get(request.call_id or "")
    new_call = call is None
    if call is None:
        own, _ = engine.sessions()
        refusal = engine.load.refusal(engine.settings, own)
        if refusal is not None:
            raise LoadLimit(refusal)
        call = m.Call(request.call_id or "", proxy=proxy_name(peer))
    ml = call.monologue(request.from_tag or "")
    new_ml = ml is None
    if ml is None:
        ml = call.new_monologue(request.from_tag or "")
        ml.kind = "publish"
    elif ml.kind == "subscribe":
        raise NgError("The from-tag is a subscription")

    planned: list[_Media] = []
    try:
        for sp in params:
            media = ml.media(sp.index)
            item = _Media(media or m.Media(ml, sp.index, sp.type), media is None)
            planned.append(item)
            if sp.protocol is not None:
                chosen = accept_one(sp.codecs, flags.codec.accept, engine)
                if chosen is None:
                    raise NgError("Failed to create SDP")
                item.codecs = [chosen]
            if sp.rtp_endpoint.port:
                item.interface = engine.interfaces.select(flags.direction[0],
                                                          sp.rtp_endpoint.family)
                item.num_ports = sp.num_ports
                item.sets = _allocate(item.interface, sp.num_ports, sp.num_ports,
                                      sp.rtp_endpoint.family)
    except OutOfPorts:
        _release(planned)
        raise NgError("Ran out of ports") from None
    except BaseException:
        _release(planned)
        raise

    # -- from here on nothing fails
    now = time.time()
    if new_ml:
        call.monologues.append(ml)
    if flags.label:
        ml.label = flags.label
    ml.last_in_sdp = request.sdp
    for item, sp in zip(planned, params, strict=True):
        media = item.media
        if item.new:
            ml.medias.append(media)
            call.attach_media(media)
        media.type = sp.type
        media.protocol = sp.protocol
        media.protocol_str = sp.protocol_str
        media.family = sp.rtp_endpoint.family
        media.flags = m.MF_INITIALIZED | (m.MF_RECV if sp.send else 0)
        media.codecs = tuple(item.codecs)
        media.sent_codecs = tuple(item.codecs)
        media.payload_types = tuple(c.pt for c in item.codecs)
        media.encodings = {c.pt: c.encoding for c in item.codecs}
        active = item.sets is not None
        _set_ports(media, item, sp.rtp_endpoint if active else None)
        if active:
            _fill_streams(media, sp, now)
            _publisher_keying(media, sp, flags)
    call.last_signal = now
    call.deleted_at = None
    if new_call:
        engine.add(call)
    engine.relay.sync(call)
    engine.changed(call)
    return {"sdp": create_sdp(ml, flags, engine.settings.software_id,
                              certificate=engine.certificate)}


_DTLS_BITS = m.MF_DTLS | m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE
_ICE_BITS = m.MF_ICE | m.MF_ICE_CONTROLLING | m.MF_TRICKLE_ICE | m.MF_ICE_LITE_PEER


def _publisher_keying(media: m.Media, sp: StreamParams, flags: OfferFlags) -> None:
    """A publisher over SRTP or with ICE, answered as rtpengine 10.5 answers one: DTLS-SRTP when
    it offered a fingerprint (rtpgate ``active`` unless it is, or ``DTLS=passive``), else SDES
    (the first of its suites, with a key of rtpgate's); ICE when it did ICE, rtpgate
    controlled (unless the publisher is ICE-lite), trickle if it trickles."""
    media.flags &= ~(_DTLS_BITS | m.MF_SDES | _ICE_BITS)
    media.media_id = sp.media_id
    media.ptime = sp.ptime
    if transport_protocols.is_srtp(sp.protocol):
        if sp.dtls is not None and flags.dtls != "off":
            passive = sp.dtls.setup == "active" or flags.dtls == "passive"
            media.flags |= m.MF_DTLS | (m.MF_DTLS_PASSIVE if passive else m.MF_DTLS_ACTIVE)
            media.sdes_in, media.sdes_out = [], []
        elif sp.sdes:  # (neither: answered without keys, as 10.5)
            media.flags |= m.MF_SDES
            # its lines stay (a subscription offers them first), the first is the one used
            offered, _ = sdes.accept(sp.sdes, [], flags.sdes)
            media.sdes_out, _ = sdes.answer(media.sdes_out, offered, [], flags.sdes, False)
            media.sdes_in = offered
    if not media.flags & m.MF_SDES:
        media.sdes_in, media.sdes_out = [], []
    ice = sp.remote_ice is not None and flags.ice != "remove"
    if ice:
        media.flags |= m.MF_ICE
        if sp.trickle_ice:
            media.flags |= m.MF_TRICKLE_ICE
        if sp.ice_lite_peer:
            media.flags |= m.MF_ICE_LITE_PEER | m.MF_ICE_CONTROLLING
        if media.ice is None:
            media.ice = new_ice_credentials()
    for stream in media.streams:
        stream.flags = stream.flags | m.PS_ICE if ice else stream.flags & ~m.PS_ICE
    _remember_party(media, sp)


def _set_ports(media: m.Media, item: _Media, endpoint: m.Endpoint | None) -> None:
    """Replace the media's ports with the ones planned (none: a rejected media)."""
    media.release()
    if item.sets is None or item.interface is None:
        _num_streams(media, 2)
        return
    em = m.EndpointMap(endpoint, item.interface, item.num_ports, item.sets)
    item.sets = None
    media.endpoint_maps.append(em)
    media.interface = em.interface
    _num_streams(media, item.num_ports)
    _assign(media, em)


def _fill_streams(media: m.Media, sp: StreamParams, now: float) -> None:
    """The party's endpoints from its SDP (RTP, and RTCP: explicit, else the next port)."""
    streams = media.streams
    mux = sp.rtcp_mux
    media.flags = media.flags | m.MF_RTCP_MUX if mux else media.flags & ~m.MF_RTCP_MUX
    for pair in range(0, len(streams) - 1, 2):
        rtp, rtcp = streams[pair], streams[pair + 1]
        rtp.flags = (rtp.flags | m.PS_RTP | (m.PS_RTCP if mux else 0))
        rtcp.flags = (rtcp.flags | m.PS_RTCP | (m.PS_FALLBACK_RTCP if mux else 0)) & ~m.PS_RTP
        _fill(rtp, sp.rtp_endpoint, pair, now)
        if sp.implicit_rtcp or sp.rtcp_endpoint is None:
            _fill(rtcp, sp.rtp_endpoint, pair + 1, now)
        else:
            _fill(rtcp, sp.rtcp_endpoint, pair, now)


# ----------------------------------------------------------------------------- subscribe

def _sources(engine: Engine, request: SubscribeRequest) -> tuple[m.Call, list[m.Monologue]]:
    """rtpengine's ``media_block_match_mult``: ``all`` (every offer/answer party), one party
    (``label``, ``address``, ``from-tag``), else the ``from-tags`` list (and ``from-tags-X``
    flags); unknown ones in the list are skipped."""
    if (request.all or "").lower() == "all" or request.has_flag("all"):
        call = engine.by_id.get(request.call_id or "")
        if call is None:
            raise NgError("Unknown call-ID")
        chosen = [ml for ml in call.monologues if ml.kind == "offer/answer" and ml.tag
                  and ml.medias]
        if not chosen:
            raise NgError("No call participant specified")
        return call, chosen
    call, ml = party(engine, request)
    if ml is not None:
        return call, [ml]
    tags = list(request.from_tags)
    tags += [item[len("from-tags-"):] for item in request.flags
             if norm(item).startswith("from-tags-")]
    chosen = []
    for tag in tags:
        found = call.monologue(tag)
        if found is not None and found not in chosen:
            chosen.append(found)
    if not chosen:
        raise NgError("No monologues matched")
    return call, chosen


def subscribe_request(engine: Engine, request: SubscribeRequest) -> Reply:
    flags = offer_flags(request, OFFER, None)
    call, sources = _sources(engine, request)
    siprec = request.has_flag("SIPREC") or request.has_flag("siprec")
    to_tag = request.to_tag or secrets.token_hex(32)  # rtpengine's: 64 hex digits
    dest = call.monologue(to_tag)
    new_ml = dest is None
    if dest is None:
        dest = call.new_monologue(to_tag)
        dest.kind = "subscribe"
    elif dest.kind != "subscribe" or dest in sources:
        raise NgError("To-tag given, but it is not a subscription")
    source_medias = [media for ml in sources for media in ml.medias]
    if not source_medias:
        raise NgError("No call participant specified")

    planned: list[_Media] = []
    try:
        for position, source in enumerate(source_medias):
            media = m.Media(dest, position + 1, source.type)
            item = _Media(media, True)
            planned.append(item)
            if source.protocol is not None:
                original = list(source.sent_codecs or source.codecs)
                item.codecs = cd.apply(original, flags.codec, engine.codec_support)
            if not _active(source):
                continue
            family = flags.address_family or source.family or "IP4"
            item.interface = engine.interfaces.select(flags.direction[1], family)
            item.sets = _allocate(item.interface, 2, 2, family)
    except OutOfPorts:
        _release(planned)
        raise NgError("Ran out of ports") from None
    except cd.TranscodingRequired as exc:
        _release(planned)
        raise NgError(exc.reason) from None
    except BaseException:
        _release(planned)
        raise

    # -- from here on nothing fails
    if new_ml:
        call.monologues.append(dest)
    else:
        dest.release()
        dest.medias = []
    label = request.set_label or request.to_label
    if label:
        dest.label = label
    dest.sources = list(sources)
    for item, source in zip(planned, source_medias, strict=True):
        _subscribe_media(call, item, source, flags, siprec)
    call.last_signal = time.time()
    engine.relay.sync(call)
    engine.changed(call)
    reply: Reply = {"sdp": create_sdp(dest, flags, engine.settings.software_id,
                                      _mirrored(sources), engine.certificate, offer=True)}
    if len(sources) == 1:
        reply["from-tag"] = sources[0].tag
    if siprec:
        reply["tag-medias"] = [_tag_medias(ml) for ml in sources]
        reply["media-labels"] = {media.label or "": _media_label(media)
                                 for ml in sources for media in ml.medias}
    reply["from-tags"] = [ml.tag for ml in sources]
    reply["to-tag"] = dest.tag
    return reply


def _active(media: m.Media) -> bool:
    return bool(media.streams) and media.streams[0].selected is not None


def _subscribe_media(call: m.Call, item: _Media, source: m.Media, flags: OfferFlags,
                     siprec: bool) -> None:
    media = item.media
    media.monologue.medias.append(media)
    call.attach_media(media)
    media.source = source
    media.protocol = flags.transport_protocol if source.protocol is not None and \
        flags.transport_protocol else source.protocol
    media.protocol_str = source.protocol_str
    media.family = flags.address_family or source.family
    media.flags = m.MF_INITIALIZED | (m.MF_SEND if source.flags & m.MF_RECV else 0)
    media.codecs = tuple(item.codecs)
    media.payload_types = tuple(c.pt for c in item.codecs)
    media.encodings = {c.pt: c.encoding for c in item.codecs}
    if siprec:
        if source.label is None:
            source.label = str(source.unique_id)
        media.label = source.label
    media.media_id = source.media_id
    media.ptime = source.ptime
    if transport_protocols.is_srtp(media.protocol):
        if not flags.sdes.off:  # the source's own lines first, as 10.5 (SRTP pass-through)
            media.flags |= m.MF_SDES
            media.sdes_out = sdes.offer(source.sdes_in, [], flags.sdes)
        if flags.dtls != "off":  # rtpengine offers both keying methods
            media.flags |= (m.MF_DTLS_PASSIVE if flags.dtls == "passive" else m.MF_DTLS_ACTIVE
                            if flags.dtls == "active" else m.MF_DTLS_ACTIVE | m.MF_DTLS_PASSIVE)
            media.flags |= m.MF_DTLS
    if flags.rtcp_mux_offer or flags.rtcp_mux_require:
        media.flags |= m.MF_RTCP_MUX
    _set_ports(media, item, None)
    if media.protocol is not None and (flags.ice == "force" or (
            source.flags & m.MF_ICE and flags.ice not in ("remove", "force-relay"))):
        # rtpgate offers, so it is the controlling agent (RFC 8445 6.1.1)
        media.flags |= m.MF_ICE | m.MF_ICE_CONTROLLING | (m.MF_TRICKLE_ICE if flags.trickle_ice
                                                          else 0)
        media.ice = new_ice_credentials()
        for stream in media.streams:
            stream.flags |= m.PS_ICE


def _mirrored(sources: list[m.Monologue]) -> str | None:
    """A single source's last SDP, whose session section the offer keeps (rtpengine 10.5
    rewrites that SDP; with several sources it makes a new one)."""
    return sources[0].last_in_sdp if len(sources) == 1 else None


def _mode(media: m.Media) -> str:
    send, recv = media.flags & m.MF_SEND, media.flags & m.MF_RECV
    return "sendrecv" if send and recv else "sendonly" if send else \
        "recvonly" if recv else "inactive"


def _tag_medias(ml: m.Monologue) -> dict[str, object]:
    out: dict[str, object] = {"tag": ml.tag}
    if ml.label:
        out["label"] = ml.label
    out["medias"] = [{"index": media.index, "type": media.type, "label": media.label or "",
                      "mode": _mode(media)} for media in ml.medias]
    return out


def _media_label(media: m.Media) -> dict[str, object]:
    ml = media.monologue
    out: dict[str, object] = {"tag": ml.tag, "index": media.index, "type": media.type}
    if ml.label:
        out["label"] = ml.label
    out["mode"] = _mode(media)
    return out


# ----------------------------------------------------------------------------- answer

def subscribe_answer(engine: Engine, request: SubscribeAnswerRequest) -> Reply:
    call = engine.by_id.get(request.call_id or "")
    if call is None:
        raise NgError("Unknown call-ID")
    if not request.to_tag:
        raise NgError("No to-tag in message")
    if not request.sdp:
        raise NgError("No SDP body in message")
    dest = call.monologue(request.to_tag)
    if dest is None:
        raise NgError("To-tag not found")
    flags = offer_flags(request, "answer", None)
    params = _params(request, flags, engine)
    allow = request.has_flag("allow transcoding") or request.has_flag("allow-transcoding")
    if dest.kind != "subscribe" or len(params) != len(dest.medias):
        raise NgError("Failed to process subscription answer")
    answers: list[tuple[m.Media, StreamParams, list[sdes.CryptoParams],
                        list[sdes.CryptoParams]]] = []
    for media, sp in zip(dest.medias, params, strict=True):
        if media.protocol is not None and sp.rtp_endpoint.port and not _accepts(
                media, sp, allow):
            raise NgError("Failed to process subscription answer")
        sdes_in, sdes_out = list(media.sdes_in), list(media.sdes_out)
        dtls = media.flags & m.MF_DTLS and sp.dtls is not None
        if media.flags & m.MF_SDES and sp.rtp_endpoint.port and not dtls \
                and transport_protocols.is_srtp(sp.protocol):
            if not sp.sdes:
                raise NgError("Failed to process subscription answer")
            sdes_in, sdes_out = sdes.accept(sp.sdes, media.sdes_out, flags.sdes)
            if not sdes_out:
                raise NgError("Failed to process subscription answer")
        answers.append((media, sp, sdes_in, sdes_out))

    # -- from here on nothing fails
    now = time.time()
    for media, sp, sdes_in, sdes_out in answers:
        media.sdes_in, media.sdes_out = sdes_in, sdes_out
        if not sp.rtp_endpoint.port or not media.streams or media.streams[0].selected is None:
            media.flags &= ~m.MF_SEND
            continue
        media.flags &= ~m.MF_RECV
        _keying(media, sp)
        if not sp.recv:
            media.flags &= ~m.MF_SEND
        # what the subscriber takes (media.codecs is what it was offered)
        media.sent_codecs = tuple(sp.codecs)
        media.flags = (media.flags | m.MF_TRANSCODING if _transcoded(media)
                       else media.flags & ~m.MF_TRANSCODING)
        _fill_streams(media, sp, now)
    call.last_signal = now
    engine.relay.sync(call)
    engine.changed(call)
    return {}


def _keying(media: m.Media, sp: StreamParams) -> None:
    """What the subscriber's answer chose of what was offered: DTLS-SRTP (rtpgate takes the
    other ``a=setup`` role) or SDES, ICE or not; an answer on plain RTP (which 10.5 accepts to
    an SRTP offer) gets plain RTP."""
    if not transport_protocols.is_srtp(sp.protocol) and sp.protocol is not None:
        media.protocol = sp.protocol
        media.flags &= ~(_DTLS_BITS | m.MF_SDES)
        media.sdes_in, media.sdes_out = [], []
    elif media.flags & m.MF_DTLS and sp.dtls is not None:
        media.flags &= ~(_DTLS_BITS | m.MF_SDES)
        media.flags |= m.MF_DTLS | (m.MF_DTLS_ACTIVE if sp.dtls.setup == "passive"
                                    else m.MF_DTLS_PASSIVE)
        media.sdes_in, media.sdes_out = [], []
    else:
        media.flags &= ~_DTLS_BITS
    if sp.remote_ice is None:
        media.flags &= ~(m.MF_ICE | m.MF_ICE_CONTROLLING)
        for stream in media.streams:
            stream.flags &= ~m.PS_ICE
    _remember_party(media, sp)


def _transcoded(media: m.Media) -> bool:
    """The subscriber's first codec is not one its source sends (a media plugin converts)."""
    source = media.source
    offered = {c.pt for c in media.codecs}
    takes = [c for c in media.sent_codecs if c.pt in offered and not c.supplemental]
    sends = [c for c in (source.sent_codecs if source is not None else ()) if not c.supplemental]
    if not takes or not sends:
        return False
    return not any(c.encoding.lower() == takes[0].encoding.lower() for c in sends)


def _accepts(media: m.Media, sp: StreamParams, allow: bool) -> bool:
    """rtpengine's ``codec_store_is_full_answer`` (every offered codec answered), or with
    ``allow transcoding`` at least one codec."""
    real = [c for c in sp.codecs if not c.supplemental]
    if allow:
        return bool(real)
    answered = {c.encoding.lower() for c in sp.codecs}
    return all(c.encoding.lower() in answered for c in media.codecs if not c.supplemental)


# ----------------------------------------------------------------------------- unsubscribe

def unsubscribe(engine: Engine, request: UnsubscribeRequest) -> Reply:
    """The subscriber stops receiving: its copies end and its ports go back to the pool
    (rtpengine keeps them until the call ends); a second ``unsubscribe`` changes nothing."""
    call = engine.by_id.get(request.call_id or "")
    if call is None:
        raise NgError("Unknown call-ID")
    if not request.to_tag:
        raise NgError("No to-tag in message")
    dest = call.monologue(request.to_tag)
    if dest is None:
        raise NgError("To-tag not found")
    if not dest.sources:
        return {}
    unlink(call, dest)
    engine.relay.sync(call)
    engine.changed(call)
    return {}


def unlink(call: m.Call, dest: m.Monologue) -> None:
    """End ``dest``'s subscriptions and return its ports."""
    dest.sources = []
    for media in dest.medias:
        media.source = None
        media.flags &= ~m.MF_SEND
    dest.release()

