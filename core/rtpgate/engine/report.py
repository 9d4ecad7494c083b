"""The call statistics that ``query`` and ``delete`` reply with (rtpengine's ``ng_call_stats``).

Key order is part of the format: ``created``, ``created_us``, ``last signal``, ``SSRC``, ``tags``,
``totals`` (then ``recording`` once recording or forwarding was asked for).  A from-tag or to-tag
(the to-tag wins) restricts ``tags`` to that party and its peers; an unknown one gives no tags.
The media-control state (blocked media or DTMF, silenced media) is added as ``blocked media``,
``blocked DTMF``, ``silenced media`` and ``forwarding`` keys only while it is in effect, so a
reply for an unaltered call is exactly rtpengine's.
"""

from __future__ import annotations

from typing import Any

from . import branches, transport_protocols
from . import model as m

_FAMILY = {"IP4": "IPv4", "IP6": "IPv6"}


def _endpoint(ep: m.Endpoint | None) -> dict[str, Any]:
    if ep is None:
        return {}
    return {"family": _FAMILY[ep.family], "address": ep.address, "port": ep.port}


def _counters(c: m.Counters) -> dict[str, int]:
    return {"packets": c.packets, "bytes": c.bytes, "errors": c.errors}


def _stream(ps: m.Stream, totals: list[m.Counters]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    selected = ps.selected
    if selected is not None:
        out["local port"] = selected.port
        out["local address"] = selected.local.address
        out["family"] = selected.local.family_name
    out["endpoint"] = _endpoint(ps.endpoint)
    out["advertised endpoint"] = _endpoint(ps.advertised)
    media = ps.media
    if media.flags & m.MF_SDES and media.sdes_out:
        out["crypto suite"] = media.sdes_out[0].suite.name
    elif media.flags & m.MF_DTLS and media.dtls is not None and media.dtls.suite:
        out["crypto suite"] = media.dtls.suite  # what the DTLS handshake negotiated
    out["last packet"] = int(ps.last_packet)
    if ps.ssrcs:
        out["SSRC"] = ps.ssrcs[0]
    out["flags"] = m.flag_names(ps.flags, m.STREAM_FLAG_NAMES)
    out["stats"] = _counters(ps.stats_in)
    total = totals[0] if ps.flags & m.PS_RTP else totals[1]
    total.packets += ps.stats_in.packets
    total.bytes += ps.stats_in.bytes
    total.errors += ps.stats_in.errors
    return out


def _media(media: m.Media, totals: list[m.Counters]) -> dict[str, Any]:
    out: dict[str, Any] = {"index": media.index, "type": media.type}
    if media.protocol is not None:
        out["protocol"] = transport_protocols.wire_name(media.protocol)
    elif media.protocol_str.lower() == "udptl":  # T.38, passed through (rtpengine knows it)
        out["protocol"] = "udptl"
    out["streams"] = [_stream(ps, totals) for ps in media.streams]
    out["flags"] = m.flag_names(media.flags, m.MEDIA_FLAG_NAMES)
    return out


def _control(out: dict[str, Any], control: m.MediaControl) -> None:
    if control.block_media:
        out["blocked media"] = 1
    if control.block_media_to:
        out["blocked media to"] = sorted(control.block_media_to)
    if control.block_dtmf:
        out["blocked DTMF"] = control.dtmf_mode
    if control.silence_media:
        out["silenced media"] = 1
    if control.silence_media_to:
        out["silenced media to"] = sorted(control.silence_media_to)


def _monologue(ml: m.Monologue, totals: list[m.Counters]) -> dict[str, Any]:
    out: dict[str, Any] = {"tag": ml.tag}
    if ml.via_branch:
        out["via-branch"] = ml.via_branch
    if ml.aliases:
        out["tag-aliases"] = list(ml.aliases)
    if ml.label:
        out["label"] = ml.label
    out["created"] = int(ml.created)
    out["subscriptions"] = [{"tag": p.tag, "type": "offer/answer"}
                            for p in branches.subscriptions(ml)] + [
        {"tag": s.tag, "type": "pub/sub"} for s in ml.sources]
    out["subscribers"] = [{"tag": p.tag, "type": "offer/answer"} for p in ml.peers] + [
        {"tag": s.tag, "type": "pub/sub"} for s in ml.call.subscribers(ml)]
    if ml.call.recording is not None:
        out["recording"] = {"excluded": 0, "forwarding": int(ml.forwarding)}
    out["medias"] = [_media(media, totals) for media in ml.medias]
    _control(out, ml.control)
    return out


def tag_key(ml: m.Monologue) -> str:
    return ml.tag if ml.tag else f"<untagged {ml.unique_id}>"


def call_stats(call: m.Call, from_tag: str | None = None, to_tag: str | None = None
               ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "created": int(call.created),
        "created_us": round((call.created % 1) * 1_000_000) % 1_000_000,
        "last signal": int(call.last_signal),
        "SSRC": {},
    }
    match = to_tag or from_tag
    if not match:
        monologues = list(call.monologues)
    else:
        ml = call.monologue(match)
        # the party and those it receives from (rtpengine lists its subscriptions)
        monologues = [] if ml is None else [ml, *(p for p in (*branches.subscriptions(ml),
                                                             *ml.sources) if p is not ml)]
    totals = [m.Counters(), m.Counters()]
    out["tags"] = {tag_key(ml): _monologue(ml, totals) for ml in monologues}
    out["totals"] = {"RTP": _counters(totals[0]), "RTCP": _counters(totals[1])}
    if call.recording is not None:
        out["recording"] = {"call recording": int(call.recording.recording),
                            "forwarding": int(call.recording.forwarding)}
    _control(out, call.media_control)
    return out
