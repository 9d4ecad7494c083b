"""Property-based: whatever arrives on /ng, /ng-plain or the ng WebSocket subprotocols, the
server answers in the documented shape (or stays silent where rtpengine does), never crashes,
and a request that fails leaves the call table and the port pool as they were."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

NG = {"Content-Type": "application/x-rtpengine-ng"}
COOKIES = itertools.count()
COMMANDS = ["ping", "offer", "answer", "delete", "query", "list", "statistics", "block media",
            "unblock media", "block DTMF", "silence media", "start recording", "cli", "nope"]
KEYS = ["call-id", "call id", "from-tag", "from tag", "to-tag", "via-branch", "sdp", "flags",
        "replace", "ICE", "direction", "address family", "transport protocol", "received from",
        "media address", "codec", "limit", "delete-delay", "label", "all", "supports", "body",
        "rtcp-mux", "sdp-attr", "ptime", "record call", "interface", "to-label"]
SDP = ("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0 8\r\na=sendrecv\r\n")

scalars = st.one_of(st.integers(-2**40, 2**40), st.text(max_size=20),
                    st.sampled_from([SDP, SDP[:40], SDP.replace("RTP/AVP", "RTP/SAVP"),
                                     "v=0\r\n", "garbage", "c=IN IP4 nowhere\r\n", "-1", "0"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
requests = st.builds(
    lambda cmd, extra: {"command": cmd, **extra},
    st.sampled_from(COMMANDS),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
SDP_VARIANTS = st.sampled_from([
    SDP, SDP[:40], SDP.replace("RTP/AVP", "RTP/SAVP"), SDP.replace("6000", "0"),
    SDP.replace("c=IN IP4 127.0.0.1\r\n", ""), SDP + "m=video 7000 RTP/AVP 96\r\n",
    SDP + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n", SDP.replace("IP4", "IP6"),
    SDP + "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n",
    SDP.replace("\r\n", "\n"), SDP.replace("m=audio 6000", "m=audio 99999"),
    SDP.replace("m=audio 6000 RTP/AVP 0 8", "m=audio 6000 RTP/AVP"), "v=0\r\nm=audio\r\n"])
signalling = st.builds(
    lambda cmd, call, tag, to, sdp, extra: {"command": cmd, "call-id": call, "from-tag": tag,
                                            "to-tag": to, "sdp": sdp, **extra},
    st.sampled_from(["offer", "answer", "delete", "query", "block media", "silence media"]),
    st.sampled_from(["c1", "c2", "c3"]), st.sampled_from(["a", "b"]),
    st.sampled_from(["a", "b", "c"]), SDP_VARIANTS,
    st.dictionaries(st.sampled_from(KEYS), values, max_size=3))
raw_payloads = st.one_of(
    st.binary(max_size=200),
    signalling.map(lambda r: codec.encode(r, "bencode")),
    signalling.map(lambda r: json.dumps(r).encode()),
    requests.map(lambda r: codec.encode(r, "bencode")),
    requests.map(lambda r: json.dumps(r).encode()),
    requests.map(lambda r: codec.encode(r, "bencode")[:-1]),  # truncated
    st.binary(max_size=50).map(lambda b: b"d" + b),
    st.binary(max_size=50).map(lambda b: b"{" + b))

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = ServerProcess(["--delete-delay=0"],
                        workdir=tmp_path_factory.mktemp("ng-property")).start()
    yield srv
    assert srv.alive, srv.log
    assert srv.stop() == 0, srv.log


def ng(server: ServerProcess, payload: dict[str, Any]) -> dict[str, Any]:
    status, _, body = server.http("POST", "/ng-plain", json.dumps(payload).encode(),
                                  {"Content-Type": "application/json"})
    assert status == 200
    reply: dict[str, Any] = json.loads(body)
    return reply


def state(server: ServerProcess) -> tuple[list[str], list[int]]:
    calls = ng(server, {"command": "list", "limit": 100000})["calls"]
    interfaces = ng(server, {"command": "statistics"})["statistics"]["interfaces"]
    return sorted(calls), [i["ports"]["used"] for i in interfaces]


def cleanup(server: ServerProcess, before: list[str]) -> None:
    for call_id in ng(server, {"command": "list", "limit": 100000})["calls"]:
        if call_id not in before:
            ng(server, {"command": "delete", "call-id": call_id, "delete delay": 0})


def check_reply(reply: bytes) -> dict[str, Any]:
    """A decodable ng dictionary ending with ``result`` (then ``error-reason`` for an error,
    ``message`` for a load limit), as rtpengine builds replies."""
    decoded, _ = codec.decode(reply)
    tail = {"error": ["result", "error-reason"], "load limit": ["result", "message"]}
    expected_tail = tail.get(decoded.get("result"), ["result"])
    assert list(decoded)[-len(expected_tail):] == expected_tail, decoded
    assert decoded["result"] in ("ok", "pong", "error", "load limit")
    if decoded["result"] == "error":
        assert isinstance(decoded["error-reason"], str) and decoded["error-reason"]
    return decoded


def assert_unchanged_on_error(server: ServerProcess, before: tuple[list[str], list[int]],
                              decoded: dict[str, Any]) -> None:
    if decoded["result"] == "error":
        assert state(server) == before
    else:
        cleanup(server, before[0])
        assert state(server) == before


@SETTINGS
@given(payload=raw_payloads)
def test_http_ng(server: ServerProcess, payload: bytes) -> None:
    before = state(server)
    cookie = f"prop{next(COOKIES)} ".encode()  # fresh, or the cookie cache would replay
    status, _, body = server.http("POST", "/ng", cookie + payload, NG)
    assert status == 200
    assert body.startswith(cookie)
    assert_unchanged_on_error(server, before, check_reply(body[len(cookie):]))


@SETTINGS
@given(payload=raw_payloads)
def test_http_ng_plain(server: ServerProcess, payload: bytes) -> None:
    before = state(server)
    status, headers, body = server.http("POST", "/ng-plain", payload, NG)
    assert (status, headers["content-type"]) == (200, "application/x-rtpengine-ng")
    assert_unchanged_on_error(server, before, check_reply(body))


@SETTINGS
@given(payloads=st.lists(raw_payloads, min_size=1, max_size=5))
def test_websocket_ng(server: ServerProcess, payloads: list[bytes]) -> None:
    async def go() -> list[bytes]:
        async with websockets.connect(server.ws_url(), subprotocols=["ng.rtpengine.com"],
                                      max_size=None) as ws:
            for i, payload in enumerate(payloads):
                await ws.send(f"p{base}x{i} ".encode() + payload)
            return [await asyncio.wait_for(ws.recv(), 10) for _ in payloads]  # type: ignore[misc]

    base = next(COOKIES)
    before = state(server)
    replies = asyncio.run(go())
    for i, reply in enumerate(replies):
        cookie, _, body = reply.partition(b" ")
        assert cookie == f"p{base}x{i}".encode()
        decoded = check_reply(body)
        if decoded["result"] != "error":
            cleanup(server, before[0])
    assert state(server) == before
