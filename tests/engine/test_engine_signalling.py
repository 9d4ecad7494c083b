"""offer/answer/delete/query/list over real HTTP and WebSocket connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from engine_client import (
    CALLEE_IP,
    CALLER_IP,
    answer,
    answer_sdp,
    delete,
    media_port,
    new_call_id,
    ng,
    offer,
    sdp,
    ws_ng,
)
from rtpgate.testing import ServerProcess, media_ports


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(1000))


def streams(reply: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [s for media in reply["tags"][tag]["medias"] for s in media["streams"]]


@pytest.mark.parametrize("fmt", ["bencode", "json"])
def test_offer_answer_reinvites_both_ways(server: ServerProcess, fmt: str) -> None:
    call = new_call_id()
    o1 = ng(server, {"command": "offer", "call-id": call, "from-tag": "A", "sdp": sdp()}, fmt)
    to_b = media_port(o1)
    a1 = ng(server, {"command": "answer", "call-id": call, "from-tag": "A", "to-tag": "B",
                     "sdp": answer_sdp()}, fmt)
    to_a = media_port(a1)
    assert to_a != to_b and o1["result"] == a1["result"] == "ok"
    # re-INVITE from the caller, same endpoint: same ports both ways
    o2 = ng(server, {"command": "offer", "call-id": call, "from-tag": "A", "to-tag": "B",
                     "sdp": sdp(version=2, media="a=rtpmap:0 PCMU/8000\r\na=sendonly\r\n",
                                codecs="0")}, fmt)
    assert media_port(o2) == to_b and "a=sendonly\r\n" in o2["sdp"]
    a2 = ng(server, {"command": "answer", "call-id": call, "from-tag": "A", "to-tag": "B",
                     "sdp": answer_sdp(codecs="0",
                                       media="a=rtpmap:0 PCMU/8000\r\na=recvonly\r\n")}, fmt)
    assert media_port(a2) == to_a and "a=recvonly\r\n" in a2["sdp"]
    # re-INVITE from the callee: the offer now goes to A, on A's ports
    o3 = ng(server, {"command": "offer", "call-id": call, "from-tag": "B", "to-tag": "A",
                     "sdp": answer_sdp(version=3)}, fmt)
    assert media_port(o3) == to_a
    a3 = ng(server, {"command": "answer", "call-id": call, "from-tag": "B", "to-tag": "A",
                     "sdp": sdp(version=3)}, fmt)
    assert media_port(a3) == to_b
    # list and query after the re-INVITEs
    assert call in ng(server, {"command": "list"}, fmt)["calls"]
    query = ng(server, {"command": "query", "call-id": call}, fmt)
    assert list(query["tags"]) == ["A", "B"]
    assert [s["local port"] for s in streams(query, "A")] == [to_a, to_a + 1]
    assert [s["local port"] for s in streams(query, "B")] == [to_b, to_b + 1]
    assert streams(query, "A")[0]["endpoint"] == {"family": "IPv4", "address": CALLER_IP,
                                                  "port": 16384}
    assert streams(query, "B")[0]["endpoint"]["address"] == CALLEE_IP
    assert query["tags"]["A"]["subscriptions"] == [{"tag": "B", "type": "offer/answer"}]
    assert list(query) == ["created", "created_us", "last signal", "SSRC", "tags", "totals",
                           "result"]
    # a query from B's side lists B first
    assert list(ng(server, {"command": "query", "call-id": call, "from-tag": "B"},
                   fmt)["tags"]) == ["B", "A"]
    deleted = ng(server, {"command": "delete", "call-id": call, "from-tag": "A"}, fmt)
    assert deleted["tags"].keys() == query["tags"].keys()
    assert ng(server, {"command": "query", "call-id": call}, fmt) == {
        "result": "error", "error-reason": "Unknown call-id"}


@pytest.mark.parametrize("fmt", ["bencode", "json"])
async def test_over_websocket(server: ServerProcess, fmt: str) -> None:
    call = new_call_id()
    replies = await ws_ng(server, [
        {"command": "offer", "call-id": call, "from-tag": "A", "sdp": sdp()},
        {"command": "answer", "call-id": call, "from-tag": "A", "to-tag": "B",
         "sdp": answer_sdp()},
        {"command": "offer", "call-id": call, "from-tag": "B", "sdp": answer_sdp(version=2)},
        {"command": "list"},
        {"command": "query", "call-id": call},
        {"command": "delete", "call-id": call, "from-tag": "A"},
        {"command": "list"}], fmt)
    offer1, answer1, reoffer, listed, query, deleted, after = replies
    assert media_port(reoffer) == media_port(answer1) != media_port(offer1)
    assert call in listed["calls"] and call not in after["calls"]
    assert query["tags"].keys() == deleted["tags"].keys() == {"A", "B"}
    assert deleted["result"] == "ok"


def test_newer_key_spellings(server: ServerProcess) -> None:
    """Spellings the newest rtpengine accepts (10.5 knew fewer), ints as numeric strings."""
    call = new_call_id()
    reply = ng(server, {"command": "offer", "call ID": call, "from tag": "A", "SDP": sdp(),
                        "transport-protocol": "RTP/AVPF", "replace": "origin,session-name",
                        "ICE": "force", "ptime": "30", "rtcp mux": ["offer"]})
    assert "RTP/AVPF 0 8 101" in reply["sdp"] and "a=ptime:30\r\n" in reply["sdp"]
    assert "a=ice-ufrag:" in reply["sdp"] and "a=rtcp-mux\r\n" in reply["sdp"]
    assert "o=alice 3724394400 1 IN IP4 127.0.0.1" in reply["sdp"]
    assert ng(server, {"command": "answer", "call-ID": call, "from-tag": "A", "to_tag": "B",
                       "sdp": answer_sdp()})["result"] == "ok"
    assert list(ng(server, {"command": "query", "call id": call, "to tag": "B"})["tags"]) == [
        "B", "A"]
    assert ng(server, {"command": "list", "limit": "0"})["calls"] == []
    assert ng(server, {"command": "delete", "call-id": call, "delete delay": "0"}) == {
        "result": "ok"}
    assert ng(server, {"command": "list"})["calls"] == []


def test_missing_keys_in_rtpengines_order(server: ServerProcess) -> None:
    assert ng(server, {"command": "offer"})["error-reason"] == "No SDP body in message"
    assert ng(server, {"command": "offer", "sdp": sdp()})["error-reason"] == \
        "No call-id in message"
    assert ng(server, {"command": "offer", "sdp": sdp(), "call-id": "x"})["error-reason"] == \
        "No from-tag in message"
    assert ng(server, {"command": "answer", "sdp": sdp(), "call-id": "x",
                       "from-tag": "a"})["error-reason"] == "No to-tag in message"
    for command in ("delete", "query", "start recording", "block media", "silence media"):
        assert ng(server, {"command": command})["error-reason"] == "No call-id in message"


def test_delete_replies(server: ServerProcess) -> None:
    missing = {"warning": "Call-ID not found or tags didn't match", "result": "ok"}
    assert delete(server, "nosuch", from_tag="x") == missing
    assert delete(server, "nosuch", flags=["fatal"]) == {
        "result": "error", "error-reason": "Call-ID not found or tags didn't match"}
    call = new_call_id()
    offer(server, call)
    answer(server, call)
    assert delete(server, call, from_tag="wrong") == missing
    # "fast" still returns the statistics, as rtpengine 10.5 does
    reply = delete(server, call, from_tag="tt", flags=["fast"])
    assert list(reply["tags"]) == ["tt", "ft"] and reply["result"] == "ok"
    assert delete(server, call, from_tag="ft") == missing


def test_list_limit(server: ServerProcess) -> None:
    calls = [new_call_id() for _ in range(3)]
    for call in calls:
        offer(server, call)
    assert ng(server, {"command": "list"})["calls"] == calls
    assert ng(server, {"command": "list", "limit": 2})["calls"] == calls[:2]
    assert ng(server, {"command": "list", "limit": "1"})["calls"] == calls[:1]
    assert ng(server, {"command": "list", "limit": -1}) == {
        "result": "error", "error-reason": "invalid limit, must be >= 0"}
    for call in calls:
        delete(server, call)


def test_offer_after_delete_mark_revives_the_call(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--delete-delay=30", *media_ports(1000))
    call = new_call_id()
    port = media_port(offer(server, call))
    answer(server, call)
    assert delete(server, call, from_tag="ft")["result"] == "ok"
    assert call in ng(server, {"command": "list"})["calls"]  # kept for delete-delay
    assert ng(server, {"command": "query", "call-id": call})["result"] == "ok"
    assert media_port(offer(server, call, sdp=sdp(version=2))) == port
    assert delete(server, call, delete_delay=0) == {"result": "ok"}
    assert call not in ng(server, {"command": "list"})["calls"]


def test_recording_and_media_control_are_reported(server: ServerProcess) -> None:
    call = new_call_id()
    offer(server, call, flags=["record-call"])
    answer(server, call)
    query = ng(server, {"command": "query", "call-id": call})
    assert query["recording"] == {"call recording": 1, "forwarding": 0}
    assert list(query)[-2:] == ["recording", "result"]
    assert ng(server, {"command": "stop recording", "call-id": call}) == {"result": "ok"}
    assert ng(server, {"command": "start forwarding", "call-id": call}) == {"result": "ok"}
    assert ng(server, {"command": "query", "call-id": call})["recording"] == {
        "call recording": 0, "forwarding": 1}
    assert ng(server, {"command": "pause recording", "call-id": "nosuch"}) == {
        "result": "error", "error-reason": "Unknown call-id"}
    # directional block of one party; whole-call silence
    assert ng(server, {"command": "block media", "call-id": call, "from-tag": "ft",
                       "flags": ["directional"]})["result"] == "ok"
    assert ng(server, {"command": "silence media", "call-id": call})["result"] == "ok"
    assert ng(server, {"command": "block DTMF", "call-id": call, "from-tag": "tt",
                       "flags": ["directional"], "DTMF-security": "silence"})["result"] == "ok"
    query = ng(server, {"command": "query", "call-id": call})
    assert query["tags"]["ft"]["blocked media"] == 1
    assert query["tags"]["tt"]["blocked DTMF"] == "silence"
    assert query["silenced media"] == 1
    # without "directional" a from-tag means the whole call for block media
    ng(server, {"command": "block media", "call-id": call, "from-tag": "tt"})
    assert ng(server, {"command": "query", "call-id": call})["blocked media"] == 1
    for command in ("unblock media", "unsilence media", "unblock DTMF"):
        assert ng(server, {"command": command, "call-id": call, "all": "all"})["result"] == "ok"
    query = ng(server, {"command": "query", "call-id": call})
    assert "blocked media" not in query and "silenced media" not in query
    assert "blocked media" not in query["tags"]["ft"]
    assert "blocked DTMF" not in query["tags"]["tt"]


def test_transcoding_without_a_media_plugin_is_refused(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """With no media plugin (here: rtpgate-transcode denied) nothing can be transcoded: an
    offer asking for it is refused and leaves nothing."""
    server = rtpgate_server("--delete-delay=0", "--plugins-deny=transcode")
    call = new_call_id()
    for keys, reason in (
            ({"codec": {"transcode": ["G729"]}},
             "Transcoding is not supported (codec G729 is not offered)"),
            ({"flags": ["always transcode"]},
             "Transcoding is not supported (flag 'always transcode'; no media plugin)")):
        reply = offer(server, call, sdp=sdp(), **keys)
        assert reply["result"] == "error" and reply["error-reason"] == reason, reply
    assert ng(server, {"command": "list"})["calls"] == []
    # with the plugin, a codec it cannot encode (G.729) is left out, as rtpengine leaves out
    # what it cannot do
    reply = offer(rtpgate_server("--delete-delay=0"), call, sdp=sdp(),
                  codec={"transcode": ["G729", "G722"]})
    assert reply["result"] == "ok" and "G729" not in reply["sdp"] and "G722/8000" in reply["sdp"]


def test_unsupported_offers_leave_nothing(server: ServerProcess) -> None:
    call = new_call_id()
    refusals: list[tuple[str, dict[str, Any], str]] = [
        (sdp(media="a=rtpmap:0 PCMU/8000\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                   "inline:PS1uQCVeeCFCanVmcjkp\r\n").replace("RTP/AVP", "RTP/SAVP"), {},
         "Invalid a=crypto attribute: key of 15 bytes"),
        (sdp(), {"transport-protocol": "TCP/TLS/RTP/SAVPF"}, "SRTP over TCP is not supported"),
        (sdp(), {"T.38": ["decode"]}, "T.38 gateway is not supported (T.38 'decode')"),
        (sdp(), {"flags": ["T38-force"]}, "T.38 gateway is not supported (T.38 'force')"),
        ("v=0\r\nbogus\r\n", {}, "Failed to parse SDP"),
        (sdp(port=99999), {}, "Failed to parse SDP"),
        (sdp().replace("c=IN IP4 192.168.10.21\r\n", ""), {}, "Incomplete SDP specification"),
    ]
    for text, keys, reason in refusals:
        reply = offer(server, call, sdp=text, **keys)
        assert reply["result"] == "error" and reply["error-reason"].startswith(reason), reply
        assert "sdp" not in reply
    assert ng(server, {"command": "list"})["calls"] == []
    assert ng(server, {"command": "query", "call-id": call})["error-reason"] == "Unknown call-id"


ICE_ATTRS = ("a=ice-ufrag:Fq7b\r\na=ice-pwd:3xKpQ9m2LbVzR8tYwN5cJh1D\r\n"
             "a=candidate:1 1 UDP 2130706431 192.168.10.21 16384 typ host\r\n")


def _media_flags(reply: dict[str, Any], tag: str) -> list[str]:
    return list(reply["tags"][tag]["medias"][0]["flags"])


@pytest.mark.parametrize("spelling", ["reject ICE", "reject-ICE", "ICE-reject"])
def test_reject_ice_keeps_the_offer_and_answers_the_offerer_without_ice(
        server: ServerProcess, spelling: str) -> None:
    """rtpengine's ``reject ICE`` clears ICE on the offerer's media only (``__ice_offer``):
    the offer keeps the ICE it would have, the answer to the offerer carries none."""
    call = new_call_id()
    o = offer(server, call, sdp=sdp(media="a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" + ICE_ATTRS,
                                    codecs="0"), flags=[spelling])
    assert o["result"] == "ok" and "a=ice-ufrag:" in o["sdp"] and "typ host" in o["sdp"]
    q = ng(server, {"command": "query", "call-id": call})
    assert "ICE" not in _media_flags(q, "ft")
    a = answer(server, call, sdp=answer_sdp(
        codecs="0", media="a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" + ICE_ATTRS.replace(
            "Fq7b", "k2Pz").replace("192.168.10.21 16384", f"{CALLEE_IP} 20000")))
    assert a["result"] == "ok"
    assert "a=ice-" not in a["sdp"] and "a=candidate" not in a["sdp"], a["sdp"]
    q = ng(server, {"command": "query", "call-id": call})
    assert "ICE" not in _media_flags(q, "ft")
    assert "ICE" in _media_flags(q, "tt")


def test_without_reject_ice_the_offerer_is_answered_with_ice(server: ServerProcess) -> None:
    call = new_call_id()
    offer(server, call, sdp=sdp(media="a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n" + ICE_ATTRS,
                                codecs="0"))
    a = answer(server, call, sdp=answer_sdp(codecs="0"))
    assert "a=ice-ufrag:" in a["sdp"] and "a=candidate" in a["sdp"]


PARTY_ICE = ("a=ice-ufrag:Fq7b\r\na=ice-pwd:3xKpQ9m2LbVzR8tYwN5cJh1D\r\n"
             "a=candidate:1 1 udp 2122260223 192.168.10.21 16384 typ host\r\n"
             "a=candidate:3 1 udp 8331007 198.51.100.9 50000 typ relay raddr 192.168.10.21 "
             "rport 16384\r\n")


@pytest.mark.parametrize(("option", "ours"), [
    ("force-relay", "1 UDP 8331263 127.0.0.1 {port} typ relay raddr 127.0.0.1 rport {port}"),
    ("optional", "1 UDP 2122260479 127.0.0.1 {port} typ host")])
def test_pass_through_candidates_are_just_above_the_partys(server: ServerProcess, option: str,
                                                          ours: str) -> None:
    """In pass-through rtpgate's candidate has the priority rtpengine 10.5 gives it (checked
    on loopback with this SDP): just above the party's own candidate of the same type, so the
    checks prefer the path through rtpgate (priorities are not compared by the corpus runner).
    ``force-relay`` drops the party's relay candidate and keeps its address in ``c=``/``m=``;
    ``optional`` keeps every candidate and puts rtpgate's address there."""
    call = new_call_id()
    reply = offer(server, call, sdp=sdp(media="a=rtpmap:0 PCMU/8000\r\n" + PARTY_ICE,
                                        codecs="0"), ICE=option)
    assert reply["result"] == "ok", reply
    text = reply["sdp"]
    port = media_port(reply)
    if option == "force-relay":
        assert port == 16384 and "198.51.100.9" not in text, text
        port = int(text.split(" typ relay raddr 127.0.0.1 rport ")[1].split()[0])
    else:
        assert port != 16384 and "198.51.100.9 50000 typ relay" in text, text
    assert ours.format(port=port) in text, text
    assert "a=ice-ufrag:Fq7b" in text, text
    flags = ng(server, {"command": "query", "call-id": call})["tags"]["ft"]["medias"][0]["flags"]
    assert "passthrough" in flags, flags
    delete(server, call)


def test_record_call_values_as_rtpengine(server: ServerProcess) -> None:
    """``record call``: yes/on start, no/off stop, ``discard`` stops (and discards), anything
    else is only logged (rtpengine's ``detect_setup_recording``); no/off/discard on a call
    that never recorded create no recording state."""
    call = new_call_id()
    offer(server, call, record_call="no")
    assert "recording" not in ng(server, {"command": "query", "call-id": call})
    answer(server, call, record_call="discard")
    assert "recording" not in ng(server, {"command": "query", "call-id": call})
    offer(server, call, record_call="on")
    query = ng(server, {"command": "query", "call-id": call})
    assert query["recording"] == {"call recording": 1, "forwarding": 0}
    assert query["tags"]["ft"]["recording"] == {"excluded": 0, "forwarding": 0}
    answer(server, call, record_call="maybe")  # invalid: nothing changes
    assert ng(server, {"command": "query", "call-id": call})["recording"]["call recording"] == 1
    answer(server, call, record_call="off")
    assert ng(server, {"command": "query", "call-id": call})["recording"]["call recording"] == 0
    answer(server, call, flags=["record-call"])
    assert ng(server, {"command": "query", "call-id": call})["recording"]["call recording"] == 1
    answer(server, call, flags=["discard-recording"])
    assert ng(server, {"command": "query", "call-id": call})["recording"]["call recording"] == 0
    # a paused recording stays paused on record call=yes: only start recording resumes it
    offer(server, call, record_call="yes")
    assert ng(server, {"command": "pause recording", "call-id": call})["result"] == "ok"
    offer(server, call, record_call="yes")
    assert ng(server, {"command": "query", "call-id": call})["recording"]["call recording"] == 0


def test_msrp_section_gets_the_session_address_it_relied_on(server: ServerProcess) -> None:
    """An ``m=message`` (MSRP over TCP) section is not relayed: when the session ``c=`` (now
    rtpgate's) was its only address, the party's own address is written into it, as rtpengine
    does (its ``synth_session_connection``); its port and attributes stay as written."""
    call = new_call_id()
    msrp = ("m=message 2855 TCP/MSRP *\r\na=setup:active\r\n"
            "a=path:msrp://192.168.10.21:2855/kjh2;tcp\r\n")
    reply = offer(server, call, sdp=sdp(extra=msrp), ICE="remove")
    text = reply["sdp"]
    assert "\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" in text, text
    assert text.endswith("m=message 2855 TCP/MSRP *\r\nc=IN IP4 192.168.10.21\r\n"
                         "a=setup:active\r\na=path:msrp://192.168.10.21:2855/kjh2;tcp\r\n"), text
    delete(server, call)
