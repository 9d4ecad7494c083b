"""A stored call (rtpengine's shape, :mod:`.shape`) rebuilt into the engine's model, on the same
local ports.  Written by rtpgate or by rtpengine: what rtpengine does not store takes its
default, and what rtpgate adds under ``rtpgate`` is used when present.

Ports are bound again where the stored call had them (``Engine.bind_port``).  For an own call
every port must be bound or the call is not restored; a foreign call may keep ports that are
still held (by the node that owns it, on the same host): they stay *unbound* (a
:class:`MediaSocket` without socket but with its port) until :func:`bind_missing` manages.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from rtpgate import api as c

from .flags import MEDIA_BITS, STREAM_BITS, from_rtpengine


class RestoreError(ValueError):
    """The stored call cannot be rebuilt here."""


def parse_endpoint(text: str) -> c.MediaEndpoint | None:
    """``1.2.3.4:5`` or ``[::1]:5``; None for an unset one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        return None
    v6 = host.startswith("[")
    address = host.strip("[]")
    if not int(port) and address in ("0.0.0.0", "::", ""):
        return None
    return c.MediaEndpoint("IP6" if v6 or ":" in address else "IP4", address, int(port))


def _int(entry: dict[str, Any], key: str, default: int = 0) -> int:
    value = entry.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RestoreError(f"{key!r} is not a number: {value!r}") from None
    return default if number == 2**32 - 1 else number


def _text(entry: dict[str, Any], key: str, default: str = "") -> str:
    value = entry.get(key, default)
    return value if isinstance(value, str) else str(value)


class _Reader:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def entry(self, name: str, i: int) -> dict[str, Any]:
        value = self.data.get(f"{name}-{i}")
        if not isinstance(value, dict):
            raise RestoreError(f"'{name}-{i}' missing")
        return value

    def items(self, name: str, i: int) -> list[str]:
        value = self.data.get(f"{name}-{i}", [])
        if not isinstance(value, list):
            raise RestoreError(f"'{name}-{i}' is not a list")
        return [str(v) for v in value]

    def refs(self, name: str, i: int, pool: list[Any]) -> list[Any]:
        out = []
        for item in self.items(name, i):
            index = int(item.split("/", 1)[0]) if item.split("/", 1)[0].isdigit() else -1
            if not 0 <= index < len(pool):
                raise RestoreError(f"'{name}-{i}' refers to {item!r}, which does not exist")
            out.append(pool[index])
        return out




def rebuild(call_id: str, data: dict[str, Any], engine: c.Engine, *, foreign: bool,
            db: int) -> c.Call:
    """The call stored as ``data``, its ports bound; raises :class:`RestoreError` (with every
    port it had bound released again)."""
    bound: list[c.MediaSocket] = []
    try:
        return _rebuild(call_id, data, engine, foreign, db, bound)
    except RestoreError:
        for sock in bound:
            sock.release()
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        for sock in bound:
            sock.release()
        raise RestoreError(f"malformed: {exc!r}") from None


def _rebuild(call_id: str, data: dict[str, Any], engine: c.Engine, foreign: bool, db: int,
             bound: list[c.MediaSocket]) -> c.Call:
    head = data.get("json")
    if not isinstance(head, dict):
        raise RestoreError("'json' missing")
    r = _Reader(data)
    extras = data.get("rtpgate") if isinstance(data.get("rtpgate"), dict) else {}
    assert isinstance(extras, dict)
    now = time.time()
    if "last_signal" not in head or "created" not in head:
        raise RestoreError("missing 'last_signal' or 'created'")
    call = c.Call(call_id, proxy=_text(head, "created_from"),
                  created=_int(head, "created") / 1_000_000)
    call.last_signal = float(_int(head, "last_signal"))
    deleted = _int(head, "deleted")
    call.deleted_at = float(deleted) if deleted else None
    call.foreign = foreign
    call.keyspace = db
    call.media_control.block_dtmf = bool(_int(head, "block_dtmf"))
    call.media_control.block_media = bool(_int(head, "block_media"))
    interfaces = engine.interfaces

    tags: list[c.Monologue] = []
    for i in range(_int(head, "num_tags")):
        entry = r.entry("tag", i)
        ml = call.new_monologue(_text(entry, "tag"))
        ml.created = float(_int(entry, "created", int(now)))
        ml.via_branch = _text(entry, "via-branch") or None
        ml.label = _text(entry, "label") or None
        ml.interface = interfaces.find(_text(entry, "logical_intf") or None, None)
        ml.control.block_dtmf = bool(_int(entry, "block_dtmf"))
        ml.control.block_media = bool(_int(entry, "block_media"))
        tags.append(ml)

    medias: list[c.Media] = []
    for i in range(_int(head, "num_medias")):
        entry = r.entry("media", i)
        owner = _int(entry, "tag", -1)
        if not 0 <= owner < len(tags):
            raise RestoreError(f"'media-{i}' belongs to no tag")
        family = _text(entry, "desired_family") or None
        interface = interfaces.select(_text(entry, "logical_intf") or None, family)
        protocol = _text(entry, "protocol")
        media = c.Media(tags[owner], _int(entry, "index"), _text(entry, "type"),
                        protocol=protocol or None, protocol_str=protocol,
                        flags=from_rtpengine(_int(entry, "media_flags"), MEDIA_BITS),
                        interface=interface, family=family, ptime=_int(entry, "ptime"),
                        media_id=_text(entry, "media_id") or None)
        encodings: dict[int, str] = {}
        for item in r.items("payload_types", i):
            fields = item.split("/")
            if len(fields) >= 3 and fields[0].isdigit():
                encoding = f"{fields[1]}/{fields[2]}" + (f"/{fields[3]}" if len(fields) > 3
                                                          and fields[3] else "")
                encodings[int(fields[0])] = encoding
        media.encodings = encodings
        formats = [int(f) for f in _text(entry, "format_str").split() if f.isdigit()]
        media.payload_types = tuple(formats) if formats else tuple(encodings)
        medias.append(media)

    streams: list[c.Stream] = []
    for i in range(_int(head, "num_streams")):
        entry = r.entry("stream", i)
        index = _int(entry, "media", -1)
        if not 0 <= index < len(medias):
            raise RestoreError(f"'stream-{i}' belongs to no media")
        stream = c.Stream(medias[index], _int(entry, "component", 1))
        # not verified again until a new DTLS handshake, unless the stream resumes with the
        # keys of the verified one (its ``resume``, below)
        stream.flags = from_rtpengine(_int(entry, "ps_flags"), STREAM_BITS) \
            & ~c.PS_FINGERPRINT_VERIFIED
        stream.advertised = parse_endpoint(_text(entry, "advertised_endpoint"))
        stream.endpoint = parse_endpoint(_text(entry, "endpoint")) or stream.advertised
        stream.stats_in.packets = _int(entry, "stats-packets")
        stream.stats_in.bytes = _int(entry, "stats-bytes")
        stream.stats_in.errors = _int(entry, "stats-errors")
        stream.last_packet = now
        streams.append(stream)

    sfds: list[c.MediaSocket] = []
    for i in range(_int(head, "num_sfds")):
        entry = r.entry("sfd", i)
        name, family = _text(entry, "logical_intf"), _text(entry, "pref_family")
        index, port = _int(entry, "local_intf_uid"), _int(entry, "localport")
        logical = interfaces.find(name, family) or interfaces.find(None, family)
        if logical is None or not 0 <= index < len(logical.addresses):
            raise RestoreError(f"'sfd-{i}': no local interface {name}/{family} #{index}")
        local = logical.addresses[index]
        if _int(entry, "fd") == -1 or not port:
            sock = c.MediaSocket.placeholder(local)
        else:
            got = engine.bind_port(logical.name, logical.family, index, port)
            if got is not None:
                bound.append(got)
                sock = got
            elif foreign:
                sock = c.MediaSocket(local, None, port, None)
            else:
                raise RestoreError(f"cannot bind {local.address}:{port}")
        owner = _int(entry, "stream", -1)
        if 0 <= owner < len(streams):
            sock.stream = streams[owner]
        sfds.append(sock)

    maps: list[c.EndpointMap] = []
    for i in range(_int(head, "num_maps")):
        entry = r.entry("map", i)
        family = _text(entry, "intf_preferred_family") or None
        interface = interfaces.select(_text(entry, "logical_intf") or None, family)
        wildcard = bool(_int(entry, "wildcard"))
        sets: list[list[c.MediaSocket]] = []
        for item in r.items("map_sfds", i):
            if item.startswith("loc-"):
                sets.append([])
            elif item.isdigit() and int(item) < len(sfds) and sets:
                sets[-1].append(sfds[int(item)])
            else:
                raise RestoreError(f"'map_sfds-{i}' has {item!r}")
        maps.append(c.EndpointMap(None if wildcard else parse_endpoint(_text(entry, "endpoint")),
                                  interface, _int(entry, "num_ports"), sets))

    for i, stream in enumerate(streams):
        entry = r.entry("stream", i)
        stream.sockets = r.refs("stream_sfds", i, sfds)
        selected = _int(entry, "sfd", -1)
        stream.selected = sfds[selected] if 0 <= selected < len(sfds) else None
        if stream.selected is not None and stream.selected not in stream.sockets:
            stream.sockets.insert(0, stream.selected)
    for i, media in enumerate(medias):
        media.streams = r.refs("streams", i, streams)
        media.endpoint_maps = r.refs("maps", i, maps)
    for i, ml in enumerate(tags):
        ml.medias = r.refs("medias", i, medias)
        peers = r.refs("subscriptions", i, tags) or r.refs("other_tags", i, tags)
        ml.peers = list(dict.fromkeys(peers))
    call.monologues = tags
    _apply_extras(call, extras, tags, medias, streams)
    call.continue_ids()
    return call


def _apply_extras(call: c.Call, extras: dict[str, Any], tags: list[c.Monologue],
                  medias: list[c.Media], streams: list[c.Stream]) -> None:
    recording = extras.get("recording")
    if isinstance(recording, str) and len(recording) == 3:
        details = extras.get("recording_details")
        details = details if isinstance(details, dict) else {}
        call.recording = c.Recording(
            recording=recording[0] == "1", paused=recording[1] == "1",
            forwarding=recording[2] == "1", metadata=_text(details, "metadata"),
            file=_text(details, "file"), path=_text(details, "path"),
            pattern=_text(details, "pattern"))
    if isinstance(extras.get("control"), dict):
        _control(call.media_control, extras["control"])
    call.debug = extras.get("debug") == "1"
    for i, ml in enumerate(tags):
        entry = extras.get(f"tag-{i}")
        if not isinstance(entry, dict):
            continue
        ml.inject_dtmf = entry.get("inject_dtmf") == "1"
        ml.kind = _text(entry, "kind", ml.kind)
        ml.sdp_session_id = _int(entry, "sdp_session_id")
        ml.unique_id = _int(entry, "unique_id", ml.unique_id)
        sources = [int(n) for n in entry.get("sources", []) if str(n).isdigit()]
        if any(n >= len(tags) for n in sources):
            raise RestoreError(f"'tag-{i}' subscribes to a tag that does not exist")
        ml.sources = [tags[n] for n in sources]
        if isinstance(entry.get("last_out_sdp"), str):
            ml.last_out_sdp = entry["last_out_sdp"]
        if isinstance(entry.get("last_in_sdp"), str):
            ml.last_in_sdp = entry["last_in_sdp"]
        ml.aliases = [str(a) for a in entry.get("aliases", [])]
        if isinstance(entry.get("control"), dict):
            _control(ml.control, entry["control"])
        ml.forwarding = entry.get("forwarding") == "1"
        ml.recording = entry.get("recording") == "1"
        ml.deleted = entry.get("deleted") == "1"
        ml.sdp_version = _int(entry, "sdp_version")
        ml.sdp_username = _text(entry, "sdp_username") or None
        ml.sdp_session_name = _text(entry, "sdp_session_name") or None
    for i, media in enumerate(medias):
        entry = extras.get(f"media-{i}")
        if not isinstance(entry, dict):
            continue
        media.protocol_str = _text(entry, "protocol_str", media.protocol_str)
        if str(entry.get("flags", "")).isdigit():
            media.flags = int(entry["flags"])
        media.codecs = tuple(_codec(item) for item in entry.get("codecs", []))
        media.sent_codecs = tuple(_codec(item) for item in entry.get("sent_codecs", []))
        transcode = _text(entry, "transcode", "00")
        media.transcode_offer, media.always_transcode = transcode[:1] == "1", transcode[1:] == "1"
        media.prefer = tuple(str(name) for name in entry.get("prefer", []))
        media.accept = tuple(str(name) for name in entry.get("accept", []))
        media.codec_set = tuple(str(name) for name in entry.get("codec_set", []))
        media.codec_transcode = tuple(str(spec) for spec in entry.get("codec_transcode", []))
        media.unique_id = _int(entry, "unique_id", media.unique_id)
        media.label = _text(entry, "label") or None
        source = _int(entry, "source", -1)
        if source >= len(medias):
            raise RestoreError(f"'media-{i}' receives from a media that does not exist")
        media.source = medias[source] if source >= 0 else None
        media.fingerprint_hash = _text(entry, "fingerprint_hash") or None
        media.sdes_in = [_crypto(item) for item in entry.get("sdes_in", [])]
        media.sdes_out = [_crypto(item) for item in entry.get("sdes_out", [])]
        if entry.get("ice_ufrag") and entry.get("ice_pwd"):
            media.ice = c.IceCredentials(_text(entry, "ice_ufrag"), _text(entry, "ice_pwd"))
        remote = entry.get("remote_ice")
        if isinstance(remote, dict):
            media.remote_ice = c.RemoteIce(
                _text(remote, "ufrag") or None, _text(remote, "pwd") or None,
                [str(cand) for cand in remote.get("candidates", [])],
                remote.get("lite") == "1")
        dtls = entry.get("dtls")
        if isinstance(dtls, dict):
            fingerprint = (_text(dtls, "hash"), _text(dtls, "fingerprint"))
            # the DTLS session itself is not kept; its keys are (a stream's ``resume``)
            media.dtls = c.DtlsState(fingerprint if all(fingerprint) else None,
                                     _text(dtls, "setup") or None)
        encodings = {}
        for item in entry.get("encodings", []):
            pt, _, encoding = str(item).partition("=")
            if pt.isdigit():
                encodings[int(pt)] = encoding
        if encodings:
            media.encodings = encodings
    for i, stream in enumerate(streams):
        entry = extras.get(f"stream-{i}")
        if not isinstance(entry, dict):
            continue
        if str(entry.get("flags", "")).isdigit():
            stream.flags = int(entry["flags"]) & ~c.PS_FINGERPRINT_VERIFIED
        counts = _text(entry, "stats_out").split("/")
        if len(counts) == 3 and all(n.isdigit() for n in counts):
            out = stream.stats_out
            out.packets, out.bytes, out.errors = (int(n) for n in counts)
        stream.ssrcs[:] = [int(s) for s in entry.get("ssrcs", []) if str(s).isdigit()]
        if isinstance(entry.get("resume"), dict):
            stream.resume = _resume(entry["resume"])
            if stream.resume.dtls_keys is not None:
                # keys of a verified handshake: still verified
                stream.flags |= c.PS_FINGERPRINT_VERIFIED


def _codec(item: Any) -> c.Codec:
    try:
        pt, encoding, fmtp, rtcp_fb = json.loads(str(item))
        return c.Codec(int(pt), str(encoding), str(fmtp), [str(fb) for fb in rtcp_fb])
    except (ValueError, TypeError) as exc:
        raise RestoreError(f"bad codec {item!r}: {exc}") from None


def _crypto(item: Any) -> c.CryptoParams:
    fields = str(item).split(" ")
    suite = c.find_suite(fields[1]) if len(fields) == 6 else None
    if suite is None or not fields[0].isdigit() or len(fields[5]) != 3:
        raise RestoreError(f"bad SDES parameters {item!r}")
    try:
        key, salt = base64.b64decode(fields[2]), base64.b64decode(fields[3])
        mki = b"" if fields[4] == "-" else base64.b64decode(fields[4])
    except (binascii.Error, ValueError):
        raise RestoreError(f"bad SDES parameters {item!r}") from None
    flags = [flag == "1" for flag in fields[5]]
    return c.CryptoParams(int(fields[0]), suite, key, salt, mki, *flags)


def _resume(entry: dict[str, Any]) -> c.MediaResume:
    keys = entry.get("dtls_keys")
    dtls_keys = None
    if isinstance(keys, dict):
        try:
            raw = [base64.b64decode(_text(keys, name), validate=True)
                   for name in ("local_key", "local_salt", "remote_key", "remote_salt")]
        except (binascii.Error, ValueError):
            raise RestoreError("bad DTLS-SRTP keys") from None
        if not all(raw) or c.find_suite(_text(keys, "suite")) is None:
            raise RestoreError("bad DTLS-SRTP keys")
        dtls_keys = c.SrtpKeys(_text(keys, "suite"), *raw)
    pair = None
    local = parse_endpoint(_text(entry, "ice_local"))
    remote = parse_endpoint(_text(entry, "ice_remote"))
    if local is not None and remote is not None:
        pair = ((local.address, local.port), (remote.address, remote.port))
    return c.MediaResume(dtls_keys, _rocs(entry.get("rocs_in")), _rocs(entry.get("rocs_out")),
                         pair)


def _rocs(items: Any) -> dict[int, int]:
    rocs = {}
    for item in items if isinstance(items, list) else []:
        ssrc, _, roc = str(item).partition("=")
        if not (ssrc.isdigit() and roc.isdigit()) or int(ssrc) >= 2**32 or int(roc) >= 2**32:
            raise RestoreError(f"bad rollover counter {item!r}")
        rocs[int(ssrc)] = int(roc)
    return rocs


def _control(control: c.MediaControl, entry: dict[str, Any]) -> None:
    control.block_dtmf = entry.get("block_dtmf") == "1"
    control.dtmf_mode = _text(entry, "dtmf_mode", control.dtmf_mode)
    control.dtmf_digit = _int(entry, "dtmf_digit", control.dtmf_digit)
    control.tone_frequency = _int(entry, "tone_frequency", control.tone_frequency)
    control.tone_volume = _int(entry, "tone_volume", control.tone_volume)
    control.delay_buffer = _int(entry, "delay_buffer", control.delay_buffer)
    control.dtmf_delay = _int(entry, "dtmf_delay", control.dtmf_delay)
    trigger = entry.get("dtmf_trigger")
    if isinstance(trigger, dict):
        control.dtmf_trigger = c.DtmfTrigger(
            _text(trigger, "sequence"), _text(trigger, "mode", "off"),
            end_sequence=_text(trigger, "end_sequence"),
            end_mode=_text(trigger, "end_mode", "off"), end_ms=_int(trigger, "end_ms"),
            end_digits=_int(trigger, "end_digits"), matched=trigger.get("matched") == "1")
    control.block_media = entry.get("block_media") == "1"
    control.silence_media = entry.get("silence_media") == "1"
    control.block_media_to = {str(t) for t in entry.get("block_media_to", [])}
    control.silence_media_to = {str(t) for t in entry.get("silence_media_to", [])}


def unbound(call: c.Call) -> list[c.MediaSocket]:
    """The call's ports that are still to be bound (a foreign call's, see the module)."""
    return [sock for media in call.medias() for em in media.endpoint_maps for run in em.sets
            for sock in run if sock.sock is None and sock.port]


def bind_missing(call: c.Call, engine: c.Engine) -> bool:
    """Bind what :func:`unbound` lists, replacing the markers everywhere the call refers to
    them; True when nothing is left unbound."""
    done = True
    for media in call.medias():
        for em in media.endpoint_maps:
            for run in em.sets:
                for position, marker in enumerate(run):
                    if marker.sock is not None or not marker.port:
                        continue
                    local = marker.local
                    logical = em.interface
                    index = logical.addresses.index(local) if local in logical.addresses else 0
                    got = engine.bind_port(local.name, local.family, index, marker.port)
                    if got is None:
                        done = False
                        continue
                    got.stream = marker.stream
                    run[position] = got
                    for stream in media.streams:
                        stream.sockets = [got if s is marker else s for s in stream.sockets]
                        if stream.selected is marker:
                            stream.selected = got
    return done
