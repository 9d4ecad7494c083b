"""A call as rtpengine stores it in Redis (``redis_encode_json`` of rtpengine 10.5): one
dictionary with a ``json`` entry for the call and flat, numbered entries for its parts, every
value a string (``sfd-N``, ``stream-N``, ``stream_sfds-N``, ``rtp_sinks-N``, ``rtcp_sinks-N``,
``tag-N``, ``other_tags-N``, ``branches-N``, ``medias-N``, ``ssrc_table-N``,
``subscriptions-N``, ``media-N``, ``streams-N``, ``maps-N``, ``payload_types-N``, ``map-N``,
``map_sfds-N``).  Numbers are positions in the call, as rtpengine's ``unique_id`` are.

What rtpengine does not keep and rtpgate does goes under ``rtpgate`` (rtpengine ignores keys it
does not know): each media's ICE credentials (rtpgate's and the party's: ufrag, pwd, candidates,
lite; the ICE role is the ``ICE controlling`` media flag), the party's DTLS fingerprint and
setup (rtpgate's DTLS role is in the media flags), SDES keys both ways, codec state (the codecs
written and received with their fmtp, transcoding choices, ``codec-transcode`` specs), rtpgate's
own media and stream flags (lossless, where rtpengine's bits have no room for some: passthrough),
labels and unique ids, each monologue's aliases, kind, publish/subscribe sources (and each
media's source), ``inject DTMF``, media-control state with a ``block DTMF`` trigger, the SDP it
was last given, recording and forwarding, each stream's sent counters and SSRCs, and what
carries its secured media over a restart (``resume``: the DTLS-SRTP keys, the SRTP rollover
counters per SSRC both ways, the selected ICE pair; see :mod:`rtpgate.engine.resume`).
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from typing import Any

from rtpgate import api as c

from . import blob
from .entries import AS_TEXT, AS_VALUES, Makers
from .flags import MEDIA_BITS, STREAM_BITS, to_rtpengine

#: rtpengine prints an unset id of ``unsigned`` as this.
NONE = str(2**32 - 1)
FORMAT_VERSION = 1
#: rtpengine's default TOS of media packets, what it writes for a call that set none (rtpgate
#: keeps no TOS per call).
DEFAULT_TOS = 184


def _address_only(proxy: str) -> str:
    """``1.2.3.4:5060`` -> ``1.2.3.4``, ``[::1]:5060`` -> ``::1`` (rtpengine's
    ``created_from_addr`` is an address)."""
    host = proxy.rpartition(":")[0] if ":" in proxy else proxy
    return host.strip("[]")


def endpoint_text(endpoint: c.MediaEndpoint | None) -> str:
    if endpoint is None:
        return "0.0.0.0:0"
    if endpoint.family == "IP6" or ":" in endpoint.address:
        return f"[{endpoint.address}]:{endpoint.port}"
    return f"{endpoint.address}:{endpoint.port}"


def _payload_type(pt: int, encoding: str) -> str:
    """``pt/encoding/clock/params/fmtp/bitrate/ptime`` from ``PCMU/8000`` or ``opus/48000/2``."""
    name, _, rest = encoding.partition("/")
    clock, _, params = rest.partition("/")
    return f"{pt}/{name}/{clock or 0}/{params}//0/0"


def _microseconds(when: float) -> int:
    """``when`` in microseconds, rounded as ``query`` reports ``created_us`` (so a restored
    call reports the same)."""
    return int(when) * 1_000_000 + round((when % 1) * 1_000_000) % 1_000_000


class _Ids:
    """Positions of a call's parts (rtpengine's per-call ``unique_id``)."""

    def __init__(self, call: c.Call) -> None:
        self.tags = {id(ml): i for i, ml in enumerate(call.monologues)}
        self.medias: dict[int, int] = {}
        self.streams: dict[int, int] = {}
        self.maps: dict[int, int] = {}
        self.sfds: dict[int, int] = {}
        self.media_list: list[c.Media] = []
        self.stream_list: list[c.Stream] = []
        self.map_list: list[tuple[c.Media, c.EndpointMap]] = []
        self.sfd_list: list[tuple[c.Media, int, c.MediaSocket]] = []
        for ml in call.monologues:
            for media in ml.medias:
                self.medias[id(media)] = len(self.media_list)
                self.media_list.append(media)
                for stream in media.streams:
                    self.streams[id(stream)] = len(self.stream_list)
                    self.stream_list.append(stream)
                for em in media.endpoint_maps:
                    self.maps[id(em)] = len(self.map_list)
                    self.map_list.append((media, em))
                    for run in em.sets:
                        for position, sock in enumerate(run):
                            self.sfds[id(sock)] = len(self.sfd_list)
                            self.sfd_list.append((media, position, sock))


def _sinks(stream: c.Stream) -> tuple[list[c.Stream], list[c.Stream]]:
    """(rtp_sinks, rtcp_sinks): the peer's stream of the same component, as the relay links
    them (:mod:`rtpgate.engine.callrelay`)."""
    ml = stream.media.monologue
    peer = ml.peers[0] if ml.peers else None
    peer_media = peer.media(stream.media.index) if peer is not None else None
    if peer_media is None:
        return [], []
    streams = peer_media.streams
    index = stream.component - 1
    if index >= len(streams):
        return [], []
    pair = index - index % 2
    mux = bool(peer_media.flags & c.MF_RTCP_MUX)
    rtcp = streams[pair] if mux or pair + 1 >= len(streams) else streams[pair + 1]
    if stream.is_rtcp:
        return [], [rtcp]
    return [streams[pair]], [rtcp]


#: What a stream needs to carry its secured media over a restart (``api.media_resume`` bound to
#: the engine's relay).
Resumer = Callable[[c.Stream], c.MediaResume | None]


def stored_value(call: c.Call, db: int, fmt: str, resumer: Resumer | None = None) -> bytes:
    """``call`` as it is written to database ``db``: its bencode made straight as text (see
    :mod:`.entries`), or encoded from its values (JSON, or a call whose text is not ASCII)."""
    if fmt.lower() != "json":
        text = blob.bencode_text(serialise(call, db, resumer, AS_TEXT))
        if text is not None:
            return text
    return blob.encode(serialise(call, db, resumer), fmt)


def serialise(call: c.Call, db: int, resumer: Resumer | None = None,
              makers: Makers = AS_VALUES) -> dict[str, Any]:
    """``call`` in rtpengine's shape, to be written to database ``db``; with ``makers``
    :data:`~.entries.AS_TEXT`, its fixed-key entries are their bencode text already (for
    :func:`.blob.bencode_text` only)."""
    ids = _Ids(call)
    out: dict[str, Any] = {}
    whole = call.media_control
    deleted = str(int(call.deleted_at or 0))
    out["json"] = makers.header(
        str(_microseconds(call.created)), "0", str(int(call.last_signal)), str(DEFAULT_TOS),
        deleted, str(len(ids.sfd_list)), str(len(ids.stream_list)), str(len(ids.media_list)),
        str(len(call.monologues)), str(len(ids.map_list)), deleted, call.proxy,
        _address_only(call.proxy), str(db), "", str(int(whole.block_dtmf)),
        str(int(whole.block_media)))
    sfd = makers.sfd
    for i, (media, position, sock) in enumerate(ids.sfd_list):
        stream = sock.stream if sock.stream is not None and id(sock.stream) in ids.streams \
            else (media.streams[position] if position < len(media.streams) else None)
        local = sock.local
        logical = media.interface
        index = logical.addresses.index(local) if logical and local in logical.addresses else 0
        out[f"sfd-{i}"] = sfd(
            local.family, str(sock.port), "-1" if sock.sock is None and not sock.port else "0",
            local.name, str(index),
            str(ids.streams[id(stream)]) if stream is not None else NONE)
    make_stream = makers.stream
    for i, stream in enumerate(ids.stream_list):
        rtcp_sibling = NONE
        media_streams = stream.media.streams
        position = stream.component - 1
        if stream.flags & c.PS_RTP and position + 1 < len(media_streams):
            rtcp_sibling = str(ids.streams[id(media_streams[position + 1])])
        selected = stream.selected
        stats = stream.stats_in
        out[f"stream-{i}"] = make_stream(
            str(ids.medias[id(stream.media)]),
            str(ids.sfds[id(selected)]) if selected is not None and id(selected) in ids.sfds
            else NONE,
            rtcp_sibling, str(int(stream.last_packet)), _stream_flags(stream.flags),
            str(stream.component), endpoint_text(stream.endpoint),
            endpoint_text(stream.advertised), str(stats.packets), str(stats.bytes),
            str(stats.errors))
    for i, stream in enumerate(ids.stream_list):
        out[f"stream_sfds-{i}"] = [str(ids.sfds[id(s)]) for s in stream.sockets
                                   if id(s) in ids.sfds]
        rtp_sinks, rtcp_sinks = _sinks(stream)
        out[f"rtp_sinks-{i}"] = [str(ids.streams[id(s)]) for s in rtp_sinks
                                 if id(s) in ids.streams]
        out[f"rtcp_sinks-{i}"] = [str(ids.streams[id(s)]) for s in rtcp_sinks
                                  if id(s) in ids.streams]
    make_tag = makers.tag
    for i, ml in enumerate(call.monologues):
        out[f"tag-{i}"] = make_tag(
            str(int(ml.created)), "0", str(int(ml.control.block_dtmf)),
            str(int(ml.control.block_media)),
            ml.interface.name if ml.interface is not None else None, ml.tag or None,
            ml.via_branch or None, ml.label or None)
    for i, ml in enumerate(call.monologues):
        peers = [ids.tags[id(p)] for p in ml.peers if id(p) in ids.tags]
        out[f"other_tags-{i}"] = [str(p) for p in peers]
        out[f"branches-{i}"] = []
        out[f"medias-{i}"] = [str(ids.medias[id(media)]) for media in ml.medias]
        out[f"ssrc_table-{i}"] = []
        out[f"subscriptions-{i}"] = [f"{p}/0/1/0/0" for p in peers]
    make_media = makers.media
    for i, media in enumerate(ids.media_list):
        out[f"media-{i}"] = make_media(
            str(ids.tags[id(media.monologue)]), str(media.index), media.type,
            " ".join(str(pt) for pt in media.payload_types),
            media.protocol or media.protocol_str, media.family or "",
            media.interface.name if media.interface else "", str(media.ptime),
            _media_flags(media.flags), media.media_id or None)
    for i, media in enumerate(ids.media_list):
        out[f"streams-{i}"] = [str(ids.streams[id(s)]) for s in media.streams]
        out[f"maps-{i}"] = [str(ids.maps[id(em)]) for em in media.endpoint_maps]
        out[f"payload_types-{i}"] = [_payload_type(pt, media.encodings.get(pt, ""))
                                     for pt in media.payload_types if pt in media.encodings]
    make_map = makers.map
    for i, (_, em) in enumerate(ids.map_list):
        out[f"map-{i}"] = make_map(
            str(int(em.wildcard)), str(em.num_ports), em.interface.family, em.interface.name,
            endpoint_text(em.endpoint))
    for i, (_, em) in enumerate(ids.map_list):
        items: list[str] = []
        for run in em.sets:
            if not run:
                continue
            local = run[0].local
            index = em.interface.addresses.index(local) if local in em.interface.addresses \
                else 0
            items.append(f"loc-{index}")
            items += [str(ids.sfds[id(sock)]) for sock in run]
        out[f"map_sfds-{i}"] = items
    out["rtpgate"] = _extras(call, ids, resumer, makers)
    return out


def _extras(call: c.Call, ids: _Ids, resumer: Resumer | None, makers: Makers
            ) -> dict[str, Any]:
    """What rtpengine's shape has no place for."""
    extras: dict[str, Any] = {"version": str(FORMAT_VERSION)}
    recording = call.recording
    if recording is not None:
        extras["recording"] = "".join(
            "1" if flag else "0"
            for flag in (recording.recording, recording.paused, recording.forwarding))
        extras["recording_details"] = {"metadata": recording.metadata, "file": recording.file,
                                       "path": recording.path, "pattern": recording.pattern}
    whole = call.media_control
    extras["control"] = _control(whole, makers)
    if call.debug:
        extras["debug"] = "1"
    make_tag = makers.tag_extras
    for i, ml in enumerate(call.monologues):
        extras[f"tag-{i}"] = make_tag(
            ml.aliases, _control(ml.control, makers), str(int(ml.forwarding)),
            str(int(ml.recording)), str(int(ml.deleted)), str(ml.sdp_version),
            ml.sdp_username or "", ml.sdp_session_name or "", str(ml.sdp_session_id),
            str(int(ml.inject_dtmf)), ml.kind, str(ml.unique_id),
            [str(ids.tags[id(src)]) for src in ml.sources if id(src) in ids.tags]
            if ml.sources else None,
            ml.last_out_sdp, ml.last_in_sdp)
    make_media = makers.media_extras
    for i, media in enumerate(ids.media_list):
        ice = media.ice
        remote = media.remote_ice
        dtls = media.dtls
        extras[f"media-{i}"] = make_media(
            media.protocol_str, str(media.flags), [_codec(codec) for codec in media.codecs],
            [_codec(codec) for codec in media.sent_codecs],
            f"{int(media.transcode_offer)}{int(media.always_transcode)}",
            media.prefer, media.accept, media.codec_set, media.fingerprint_hash or "",
            [_crypto(params) for params in media.sdes_in],
            [_crypto(params) for params in media.sdes_out],
            media.codec_transcode, str(media.unique_id), media.label,
            str(ids.medias[id(media.source)])
            if media.source is not None and id(media.source) in ids.medias else None,
            ice.ufrag if ice is not None else None, ice.pwd if ice is not None else None,
            makers.remote_ice(remote.ufrag or "", remote.pwd or "", remote.candidates,
                              str(int(remote.lite))) if remote is not None else None,
            makers.dtls(dtls.fingerprint[0] if dtls.fingerprint else "",
                        dtls.fingerprint[1] if dtls.fingerprint else "", dtls.setup or "",
                        dtls.state, dtls.suite or "", dtls.failure or "")
            if dtls is not None else None,
            [f"{pt}={enc}" for pt, enc in media.encodings.items()])
    make_stream = makers.stream_extras
    for i, stream in enumerate(ids.stream_list):
        stats = stream.stats_out
        resume = resumer(stream) if resumer is not None else stream.resume
        extras[f"stream-{i}"] = make_stream(
            str(stream.flags), f"{stats.packets}/{stats.bytes}/{stats.errors}",
            [str(ssrc) for ssrc in stream.ssrcs],
            None if resume is None else makers.made(resume_entry(resume)))
    return extras


def resume_entry(resume: c.MediaResume) -> dict[str, Any]:
    """A stream's :class:`MediaResume`: DTLS-SRTP keys (base64), rollover counters
    (``ssrc=roc``), the selected ICE pair."""
    b64 = base64.b64encode
    entry: dict[str, Any] = {
        "rocs_in": [f"{ssrc}={roc}" for ssrc, roc in sorted(resume.rocs_in.items())],
        "rocs_out": [f"{ssrc}={roc}" for ssrc, roc in sorted(resume.rocs_out.items())],
    }
    keys = resume.dtls_keys
    if keys is not None:
        entry["dtls_keys"] = {"suite": keys.suite,
                              "local_key": b64(keys.local_key).decode(),
                              "local_salt": b64(keys.local_salt).decode(),
                              "remote_key": b64(keys.remote_key).decode(),
                              "remote_salt": b64(keys.remote_salt).decode()}
    if resume.ice_pair is not None:
        local, remote = resume.ice_pair
        entry["ice_local"] = _address_text(local)
        entry["ice_remote"] = _address_text(remote)
    return entry


def _address_text(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _codec(codec: c.Codec) -> str:
    rtcp_fb = codec.rtcp_fb
    return _codec_text(codec.pt, codec.encoding, codec.fmtp, tuple(rtcp_fb) if rtcp_fb else ())


@functools.lru_cache(maxsize=4096)
def _codec_text(pt: int, encoding: str, fmtp: str, rtcp_fb: tuple[str, ...]) -> str:
    """A codec as JSON, made once per distinct codec (``json.dumps`` was a sixth of the time
    of serialising a call)."""
    return json.dumps([pt, encoding, fmtp, list(rtcp_fb)])


@functools.lru_cache(maxsize=1024)
def _media_flags(flags: int) -> str:
    return str(to_rtpengine(flags, MEDIA_BITS))


@functools.lru_cache(maxsize=1024)
def _stream_flags(flags: int) -> str:
    return str(to_rtpengine(flags, STREAM_BITS))


def _crypto(params: c.CryptoParams) -> str:
    """``tag suite key salt mki flags`` (binary parts in base64)."""
    b64 = base64.b64encode
    flags = "".join("1" if flag else "0" for flag in params.session_flags)
    return (f"{params.tag} {params.suite.name} {b64(params.key).decode()} "
            f"{b64(params.salt).decode()} {b64(params.mki).decode() or '-'} {flags}")


def _control(control: c.MediaControl, makers: Makers) -> Any:
    if makers.text and control == _DEFAULT_CONTROL:  # most parties': its text made once
        return _DEFAULT_CONTROL_TEXT
    return _control_entry(control, makers)


def _control_entry(control: c.MediaControl, makers: Makers) -> Any:
    trigger = control.dtmf_trigger
    return makers.control(
        str(int(control.block_dtmf)), control.dtmf_mode, str(control.dtmf_digit),
        str(control.tone_frequency), str(control.tone_volume), str(control.delay_buffer),
        str(control.dtmf_delay), str(int(control.block_media)),
        str(int(control.silence_media)), sorted(control.block_media_to),
        sorted(control.silence_media_to),
        None if trigger is None else makers.dtmf_trigger(
            trigger.sequence, trigger.mode, trigger.end_sequence, trigger.end_mode,
            str(trigger.end_ms), str(trigger.end_digits), str(int(trigger.matched))))


_DEFAULT_CONTROL = c.MediaControl()
_DEFAULT_CONTROL_TEXT = _control_entry(_DEFAULT_CONTROL, AS_TEXT)
