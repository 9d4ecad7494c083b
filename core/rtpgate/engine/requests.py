"""Request models of the engine's ng commands, with every key spelling rtpengine accepts.

Values are read as leniently as rtpengine reads them: strings may arrive as numbers, integers as
numbers or numeric strings (anything else counts as absent), and lists of flags either as lists
(non-string items are skipped) or as one comma-separated string.  Keys rtpengine knows but
rtpgate does not act on are declared anyway, so they are not logged as unknown.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, BeforeValidator, Field

from ..ngcommands.models import NgRequest, key


def ng_text(value: Any) -> str | None:
    """A text value as rtpengine reads it: a string, or a number's digits (``call-id`` sent as
    a bencode integer); the workers' routing reads a call-id with it too."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        sign = ""
        if text.startswith(("+", "-")):  # not text[:1] in "+-": "" is in every string
            sign, text = text[0], text[1:]
        return int(sign + text) if text.isascii() and text.isdigit() else None
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, str):
        return [part for part in value.split(",") if part]
    return []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


Text = Annotated[str | None, BeforeValidator(ng_text)]
Int = Annotated[int | None, BeforeValidator(_integer)]
Strings = Annotated[list[str], BeforeValidator(_strings)]
Dict = Annotated[dict[str, Any], BeforeValidator(_dict)]


def strings(*spellings: str) -> Any:
    """A list field readable under each of ``spellings``."""
    return Field(default_factory=list, validation_alias=AliasChoices(*spellings))


def mapping(*spellings: str) -> Any:
    """A dictionary field readable under each of ``spellings``."""
    return Field(default_factory=dict, validation_alias=AliasChoices(*spellings))


class CallRequest(NgRequest):
    """Keys naming a call and its parties."""

    call_id: Text = key("call-id", "call-ID", "call id", "call ID")
    from_tag: Text = key("from-tag", "from tag")
    to_tag: Text = key("to-tag", "to_tag", "to tag")
    via_branch: Text = key("via-branch")
    flags: Strings = strings("flags")

    required: ClassVar[dict[str, str]] = {"call_id": "No call-id in message"}


class PartyRequest(CallRequest):
    """Keys of the commands that select a party (rtpengine's ``media_block_match``)."""

    label: Text = key("label", "from-label", "from label")
    to_label: Text = key("to-label", "to label")
    address: Text = key("address")
    all: Text = key("all")
    from_tags: Strings = strings("from-tags", "from tags")
    metadata: Text = key("metadata")


class OfferRequest(PartyRequest):
    """``offer`` (``answer`` adds the to-tag requirement)."""

    sdp: Text = key("sdp", "SDP")
    replace: Strings = strings("replace")
    direction: Strings = strings("direction")
    from_interface: Text = key("from-interface", "from interface")
    to_interface: Text = key("to-interface", "to interface")
    interface: Text = key("interface")
    address_family: Text = key("address family", "address-family")
    media_address: Text = key("media address", "media-address")
    received_from: Strings = strings("received from", "received-from")
    ice: Text = key("ICE", "ice")
    ice_lite: Text = key("ICE-lite", "ice-lite", "ICE lite", "ice lite")
    transport_protocol: Text = key("transport protocol", "transport-protocol")
    rtcp_mux: Strings = strings("rtcp-mux", "RTCP-mux", "rtcp mux", "RTCP mux")
    sdes: Strings = strings("SDES", "sdes")
    dtls: Text = key("DTLS", "dtls")
    dtls_fingerprint: Text = key("DTLS fingerprint", "DTLS-fingerprint", "dtls fingerprint",
                                 "dtls-fingerprint")
    dtls_reverse: Text = key("DTLS-reverse", "DTLS reverse", "dtls-reverse", "dtls reverse")
    osrtp: Strings = strings("OSRTP", "osrtp")
    codec: Dict = mapping("codec")
    ptime: Int = key("ptime")
    ptime_reverse: Int = key("ptime-reverse", "ptime reverse", "reverse ptime", "reverse-ptime")
    tos: Int = key("TOS", "tos")
    record_call: Text = key("record call", "record-call")
    set_label: Text = key("set-label", "set label")
    sdp_attr: Dict = mapping("sdp-attr", "SDP-attr", "sdp attr", "SDP attr")
    supports: Strings = strings("supports")
    t38: Strings = strings("T38", "T.38", "t38", "t.38")
    bundle: Strings = strings("bundle", "BUNDLE")
    media_echo: Text = key("media echo", "media-echo")
    endpoint_learning: Strings = strings("endpoint-learning", "endpoint learning")
    generate_rtcp: Text = key("generate RTCP", "generate-RTCP", "generate rtcp", "generate-rtcp")
    xmlrpc_callback: Text = key("xmlrpc-callback", "XMLRPC-callback")
    sip_code: Int = key("sip-code", "sip_code", "SIP-code", "SIP_code", "sip code", "SIP code")
    rtpp_flags: Text = key("rtpp-flags", "rtpp_flags", "rtpp flags")
    drop_traffic: Text = key("drop-traffic", "drop traffic")
    passthrough: Text = key("passthrough", "passthru")

    required: ClassVar[dict[str, str]] = {"sdp": "No SDP body in message",
                                          "call_id": "No call-id in message",
                                          "from_tag": "No from-tag in message"}


class AnswerRequest(OfferRequest):
    required: ClassVar[dict[str, str]] = {**OfferRequest.required,
                                          "to_tag": "No to-tag in message"}


class PublishRequest(OfferRequest):
    """``publish``: an offer's keys; the SDP describes what the party sends."""


class SubscribeRequest(OfferRequest):
    """``subscribe request``: the sources are picked like a party (``label``, ``address``,
    ``from-tag``), or by ``from-tags`` or ``all``; no SDP."""

    required: ClassVar[dict[str, str]] = {"call_id": "No call-id in message"}


class SubscribeAnswerRequest(OfferRequest):
    """``subscribe answer``: the subscriber's ``to-tag`` and its answer SDP."""

    required: ClassVar[dict[str, str]] = {"call_id": "No call-id in message"}


class UnsubscribeRequest(CallRequest):
    """``unsubscribe``: the subscriber's ``to-tag``."""


class ConnectRequest(PartyRequest):
    """``connect``: the party (``from-tag``, ``label``, ``address``) and the ``to-tag`` to join
    (``to-call-id``: a party of another call, which rtpgate refuses)."""

    to_call_id: Text = key("to-call-id", "to call id", "to-call-ID", "to call ID")


class DeleteRequest(CallRequest):
    delete_delay: Int = key("delete delay", "delete-delay", "delete_delay")


class QueryRequest(CallRequest):
    pass


class ListRequest(NgRequest):
    limit: Any = key("limit", default=None)


class RecordingRequest(CallRequest):
    """start/stop/pause recording and start/stop forwarding."""

    metadata: Text = key("metadata")
    pause: Text = key("pause")
    recording_file: Text = key("recording-file", "recording file", "output-destination",
                               "output destination", "recording-dest", "recording dest")
    recording_path: Text = key("recording-path", "recording path", "recording-dir",
                               "recording dir")
    recording_pattern: Text = key("recording-pattern", "recording pattern")
    label: Text = key("label", "from-label", "from label")
    to_label: Text = key("to-label", "to label")
    address: Text = key("address")
    all: Text = key("all")
    from_tags: Strings = strings("from-tags", "from tags")


class BlockDtmfRequest(PartyRequest):
    dtmf_security: Text = key("DTMF-security", "dtmf-security", "DTMF security", "dtmf security")
    dtmf_security_trigger: Text = key("DTMF-security-trigger", "dtmf-security-trigger",
                                      "DTMF security trigger", "dtmf security trigger")
    dtmf_security_trigger_end: Text = key(
        "DTMF-security-trigger-end", "dtmf-security-trigger-end", "DTMF security trigger end",
        "dtmf security trigger end")
    trigger: Text = key("trigger")
    trigger_end: Text = key("trigger-end", "trigger end", "end trigger", "end-trigger")
    trigger_end_time: Int = key("trigger-end-time", "trigger end time", "end-trigger-time",
                                "end trigger time")
    trigger_end_digits: Int = key("trigger-end-digits", "trigger end digits",
                                  "end-trigger-digits", "end trigger digits")
    dtmf_delay: Int = key("DTMF-delay", "DTMF delay", "dtmf-delay", "dtmf delay")
    delay_buffer: Int = key("delay-buffer", "delay buffer")
    digit: Text = key("digit", "code")
    frequency: Any = key("frequency", "frequencies", default=None)
    volume: Int = key("volume")


def _blob(value: Any) -> bytes | None:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value:
        return value.encode("utf-8", "surrogateescape")  # the ng codec's decoding, undone
    return None


class PlayMediaRequest(PartyRequest):
    """``play media``, ``stop media`` and ``play silence``."""

    file: Text = key("file")
    blob: Annotated[bytes | None, BeforeValidator(_blob)] = key("blob")
    db_id: Int = key("db-id", "db id")
    repeat_times: Int = key("repeat-times", "repeat times")
    start_pos: Int = key("start-pos", "start pos")
    duration: Int = key("duration")


class PlayDtmfRequest(PartyRequest):
    """``play DTMF``: ``code`` a key (or several, played in turn) or an event number, the
    ``duration`` and ``pause`` in ms, the ``volume`` in -dBm0."""

    code: Text = key("code", "digit")
    duration: Int = key("duration")
    volume: Int = key("volume")
    pause: Int = key("pause")
