"""The work one ng request may cause is bounded (items, SDP lines, media sections), and a reply
too large for a datagram is refused with an error that fits, leaving no call and no port."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess, media_ports

COOKIES = itertools.count()


def sdp(medias: int, attributes: int = 0, width: int = 100) -> str:
    head = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    body = "".join(f"m=audio {6000 + 2 * i} RTP/AVP 0\r\n" +
                   "".join(f"a=x-pad{j}:{'p' * width}\r\n" for j in range(attributes))
                   for i in range(medias))
    return head + body


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(["--delete-delay=0", "--listen-http=127.0.0.1:0",
                         "--listen-ng=127.0.0.1:0", "--listen-tcp-ng=127.0.0.1:0",
                         *media_ports(10000),
                         # above the defaults (32, 4096), so one offer can outgrow a datagram
                         "--max-media-sections=128", "--max-sdp-lines=8192"],
                        workdir=tmp_path_factory.mktemp("bounds")).start()
    yield srv
    assert srv.stop() == 0, srv.log
    assert "Traceback" not in srv.log


def udp(server: ServerProcess, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(size of the reply datagram, decoded reply)."""
    cookie = b"b%d" % next(COOKIES)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        payload = cookie + b" " + codec.encode(request, "bencode")
        assert len(payload) <= 65507
        sock.sendto(payload, server.address("ng-udp"))
        reply = sock.recv(65535)
    got, _, body = reply.partition(b" ")
    assert got == cookie
    return len(reply), codec.decode(body)[0]


def http(server: ServerProcess, request: dict[str, Any]) -> dict[str, Any]:
    status, _, body = server.http("POST", "/ng", b"h%d " % next(COOKIES) +
                                  codec.encode(request, "bencode"),
                                  {"Content-Type": "application/x-rtpengine-ng"})
    assert status == 200
    return codec.decode(body.partition(b" ")[2])[0]


def state(server: ServerProcess) -> tuple[list[str], list[int]]:
    calls = http(server, {"command": "list"})["calls"]
    used = [i["ports"]["used"] for i in http(server, {"command": "statistics"})
            ["statistics"]["interfaces"]]
    return calls, used


def offer(call_id: str, body: str) -> dict[str, Any]:
    return {"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": body}


def test_offer_with_1000_media_sections_is_refused_up_front(server: ServerProcess) -> None:
    before = state(server)
    size, reply = udp(server, offer("m1000", sdp(1000)))
    assert reply == {"result": "error",
                     "error-reason": "Too many media sections in SDP (more than 128)"}
    assert size < 200
    assert state(server) == before


def test_reply_too_large_for_udp_is_an_error_and_frees_the_call(server: ServerProcess) -> None:
    """An offer that fits in a datagram but whose rewritten SDP does not: rtpgate used to
    create the call and fail to send the reply ("Message too long"), the client heard
    nothing.  Now the call is undone and the error fits; over TCP the same offer works."""
    before = state(server)
    body = sdp(100, attributes=5, width=110)
    size, reply = udp(server, offer("big-udp", body))
    assert reply["result"] == "error", reply
    assert reply["error-reason"].startswith("Reply too large for UDP ("), reply
    assert size < 300
    assert state(server) == before
    reply = http(server, offer("big-http", body))
    assert reply["result"] == "ok" and len(reply["sdp"]) > 65507
    http(server, {"command": "delete", "call-id": "big-http", "delete-delay": 0})
    assert state(server) == before


def test_any_reply_too_large_for_udp_is_an_error(server: ServerProcess) -> None:
    """Not only offers: a list of many long call-ids is replaced by an error that fits."""
    ids = [f"{i:04d}" + "c" * 200 for i in range(400)]
    for call_id in ids:
        assert http(server, offer(call_id, sdp(1)))["result"] == "ok"
    size, reply = udp(server, {"command": "list", "limit": 1000})
    assert reply["result"] == "error" and "Reply too large for UDP" in reply["error-reason"]
    assert size < 300
    assert len(http(server, {"command": "list", "limit": 1000})["calls"]) >= 400
    for call_id in ids:
        http(server, {"command": "delete", "call-id": call_id, "delete-delay": 0})


def test_too_many_items_is_an_error(server: ServerProcess) -> None:
    _, reply = udp(server, {"command": "ping", **{f"k{i}": i for i in range(2000)}})
    assert reply == {"result": "error",
                     "error-reason": "Too many items in message (more than 2048)"}
    _, reply = udp(server, {"command": "ping", "x": [[]] * 5000})
    assert reply["error-reason"] == "Too many items in message (more than 2048)"
    _, reply = udp(server, {"command": "ping", **{f"k{i}": i for i in range(100)}})
    assert reply == {"result": "pong"}


def test_too_many_sdp_lines_is_an_error(server: ServerProcess) -> None:
    before = state(server)
    reply = http(server, offer("lines", sdp(1, attributes=9000, width=1)))
    assert reply == {"result": "error",
                     "error-reason": "Too many lines in SDP (more than 8192)"}
    assert state(server) == before
