"""ng over HTTP: POST /ng (cookies) and POST /ng-plain, against a real server.

Expected bytes are rtpengine 10.5's (reference transcripts/http_ng.txt), except where upstream's
newer behaviour is followed (JSON numbers accepted; /ng-plain exists)."""

from __future__ import annotations

import socket

import pytest
from rtpgate.testing import ServerProcess

NG = {"Content-Type": "application/x-rtpengine-ng"}
ERROR_LADDER = [
    (b"c1 d7:command4:pinge", b"c1 d6:result4:ponge"),
    (b'c2 {"command":"ping"}', b'c2 {"result":"pong"}'),
    (b"c3 ", b"c3 d6:result5:error12:error-reason25:Invalid data (no payload)e"),
    (b"c4  d7:command4:pinge", b"c4 d6:result5:error12:error-reason22:Invalid NG data formate"),
    (b"c5 d7:command4:pin", b"c5 d6:result5:error12:error-reason35:Could not decode bencode "
                            b"dictionarye"),
    (b"c6 d7:command4:pingeXYZ", b"c6 d6:result4:ponge"),
    (b"c7 l4:pinge", b"c7 d6:result5:error12:error-reason22:Invalid NG data formate"),
    (b'c8 {"command": ', b'c8 {"result":"error","error-reason":"Failed to parse JSON document"}'),
    (b'c9 ["ping"]', b"c9 d6:result5:error12:error-reason22:Invalid NG data formate"),
    (b'c9b "ping"', b"c9b d6:result5:error12:error-reason22:Invalid NG data formate"),
    (b"c10 d3:foo3:bare", b'c10 d6:result5:error12:error-reason36:Dictionary contains no key '
                          b'"command"e'),
    (b"c11 d7:commandi5ee", b'c11 d6:result5:error12:error-reason36:Dictionary contains no key '
                            b'"command"e'),
    (b"c12 d7:command10:frobnicatee", b"c12 d6:result5:error12:error-reason20:Unrecognized "
                                      b"commande"),
    (b'c13 {"command":"frobnicate"}', b'c13 {"result":"error","error-reason":"Unrecognized '
                                      b'command"}'),
    (b"c14 hello", b"c14 d6:result5:error12:error-reason22:Invalid NG data formate"),
    (b"c15 d7:command4:PINGe", b"c15 d6:result5:error12:error-reason20:Unrecognized commande"),
    # newer rtpengine accepts JSON numbers, so a ping with extra non-string values is a ping
    (b'c16 {"command":"ping","n":1,"l":[1,"a"],"d":{"k":"v"}}', b'c16 {"result":"pong"}'),
]


@pytest.fixture
def server(shared_server: ServerProcess) -> ServerProcess:
    return shared_server


@pytest.mark.parametrize(("body", "expected"), ERROR_LADDER,
                         ids=[b.split(b" ")[0].decode() for b, _ in ERROR_LADDER])
def test_error_ladder(server: ServerProcess, body: bytes, expected: bytes) -> None:
    status, headers, reply = server.http("POST", "/ng", body, NG)
    assert (status, headers["content-type"], reply) == (200, "application/x-rtpengine-ng",
                                                        expected)


@pytest.mark.parametrize("body", [b"d7:command4:pinge", b'{"command":"ping"}',
                                  b" d7:command4:pinge", b""])
def test_no_cookie_gets_600(server: ServerProcess, body: bytes) -> None:
    with server.connect() as sock:
        sock.sendall(b"POST /ng HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-rtpengine-ng"
                     b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        head = _read_response(sock)
    assert head.startswith(b"HTTP/1.1 600 \r\n")
    assert head.endswith(b"\r\n\r\nerror\n")
    assert b"Content-Type: text/plain" in head


@pytest.mark.parametrize(("ctype", "status"), [
    ("application/x-rtpengine-ng", 200), ("APPLICATION/X-RTPENGINE-NG", 200),
    ("application/x-rtpengine-ng; charset=utf-8", 404), ("text/plain", 404),
    ("application/json", 404)])
def test_ng_content_type_must_match_exactly(server: ServerProcess, ctype: str, status: int
                                            ) -> None:
    got, _, body = server.http("POST", "/ng", b"ct1 d7:command4:pinge", {"Content-Type": ctype})
    assert got == status
    assert body == (b"ct1 d6:result4:ponge" if status == 200 else b"not found\n")


def test_ng_paths(server: ServerProcess) -> None:
    assert server.http("POST", "/ng?x=1", b"q1 d7:command4:pinge", NG)[2] == b"q1 d6:result4:ponge"
    assert server.http("POST", "/ng/", b"q2 d7:command4:pinge", NG)[0] == 404
    assert server.http("GET", "/ng")[0] == 404


@pytest.mark.parametrize(("ctype", "body", "reply_type", "reply"), [
    ("application/json", b'{"command":"ping"}', "application/json", b'{"result":"pong"}'),
    ("application/x-rtpengine-ng", b"d7:command4:pinge", "application/x-rtpengine-ng",
     b"d6:result4:ponge"),
    ("application/x-rtpengine-ng", b'{"command":"ping"}', "application/x-rtpengine-ng",
     b'{"result":"pong"}'),
    ("application/json", b'ck1 {"command":"ping"}', "application/json",
     b"d6:result5:error12:error-reason22:Invalid NG data formate"),
])
def test_ng_plain(server: ServerProcess, ctype: str, body: bytes, reply_type: str,
                  reply: bytes) -> None:
    status, headers, got = server.http("POST", "/ng-plain", body, {"Content-Type": ctype})
    assert (status, headers["content-type"], got) == (200, reply_type, reply)


def test_ng_plain_refuses_other_types(server: ServerProcess) -> None:
    status, _, body = server.http("POST", "/ng-plain", b'{"command":"ping"}',
                                  {"Content-Type": "text/plain"})
    assert (status, body) == (404, b"not found\n")


def test_ng_plain_has_no_cookie_cache(ng_server) -> None:  # type: ignore[no-untyped-def]
    server = ng_server()
    runs = [server.http("POST", "/ng-plain", b'{"command":"test-count"}',
                        {"Content-Type": "application/json"})[2] for _ in range(3)]
    assert runs == [b'{"runs":1,"result":"ok"}', b'{"runs":2,"result":"ok"}',
                    b'{"runs":3,"result":"ok"}']


def test_third_party_command_reaches_every_ng_path(server: ServerProcess) -> None:
    _, _, body = server.http("POST", "/ng", b"tp1 d7:command10:test-counte", NG)
    assert body == b"tp1 d4:runsi1e6:result2:oke"
    _, _, body = server.http("POST", "/ng", b"tp2 d7:command10:test-sleep5:label4:faile", NG)
    assert body == b"tp2 d6:result5:error12:error-reason13:asked to faile"


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(4096)
    return head + b"\r\n\r\n" + rest
