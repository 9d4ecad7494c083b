"""The ng cookie cache end to end: one cache for every cookie-carrying transport."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import websockets
from rtpgate.testing import ServerProcess

NG = {"Content-Type": "application/x-rtpengine-ng"}


def post(server: ServerProcess, body: bytes) -> bytes:
    status, _, reply = server.http("POST", "/ng", body, NG)
    assert status == 200
    return reply


def runs(server: ServerProcess, cookie: bytes) -> int:
    """How often the test commands have run so far (test-count itself adds one)."""
    reply = post(server, cookie + b" d7:command10:test-counte")
    return int(reply.split(b"runsi", 1)[1].split(b"e", 1)[0])


def ws_send(server: ServerProcess, message: bytes) -> bytes:
    async def go() -> bytes:
        async with websockets.connect(server.ws_url(), subprotocols=["ng.rtpengine.com"]) as ws:
            await ws.send(message)
            reply = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(reply, bytes)
            return reply
    return asyncio.run(go())


def test_duplicate_gets_the_identical_reply_without_running_again(ng_server) -> None:  # type: ignore[no-untyped-def]
    server = ng_server()
    first = post(server, b"dup1 d7:command10:test-counte")
    assert first == b"dup1 d4:runsi1e6:result2:oke"
    assert post(server, b"dup1 d7:command10:test-counte") == first
    assert post(server, b"dup1 d7:command4:pinge") == first  # other body, same cookie
    assert post(server, b'dup1 {"command":"ping"}') == first  # other format, same cookie
    assert runs(server, b"dup-check") == 2  # only dup1's first request and this one ran


def test_json_reply_is_replayed_as_json_and_errors_are_cached(ng_server) -> None:  # type: ignore[no-untyped-def]
    server = ng_server()
    assert post(server, b'dj {"command":"ping"}') == b'dj {"result":"pong"}'
    assert post(server, b"dj d7:command4:pinge") == b'dj {"result":"pong"}'
    error = post(server, b"de d7:command4:nopee")
    assert post(server, b"de d7:command4:pinge") == error


def test_cache_is_shared_between_http_and_websocket(ng_server) -> None:  # type: ignore[no-untyped-def]
    server = ng_server()
    via_http = post(server, b"x1 d7:command10:test-counte")
    assert ws_send(server, b"x1 d7:command4:pinge") == via_http
    via_ws = ws_send(server, b"x2 d7:command10:test-counte")
    assert post(server, b"x2 d7:command4:pinge") == via_ws
    assert runs(server, b"x3") == 3


def test_concurrent_duplicate_waits_for_the_first_reply(ng_server) -> None:  # type: ignore[no-untyped-def]
    server = ng_server()
    slow = b"slow1 d7:command10:test-sleep7:seconds3:0.5e"
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(post, server, slow)
        time.sleep(0.15)  # the first is running now
        started = time.monotonic()
        duplicates = [pool.submit(post, server, b"slow1 d7:command4:pinge"),
                      pool.submit(ws_send, server, b"slow1 d7:command4:pinge")]
        results = [first.result(), *(d.result() for d in duplicates)]
        waited = time.monotonic() - started
    assert results[0].startswith(b"slow1 d5:slept3:0.5")
    assert results == [results[0]] * 3
    assert waited > 0.2, "the duplicates waited for the running request"
    assert runs(server, b"slow-check") == 2


def test_entries_expire_after_one_to_two_lifetimes(ng_server) -> None:  # type: ignore[no-untyped-def]
    server = ng_server("--ng-cookie-lifetime=0.3")
    first = post(server, b"exp1 d7:command10:test-counte")
    assert post(server, b"exp1 d7:command10:test-counte") == first  # within the lifetime
    time.sleep(0.7)  # past two generations
    assert post(server, b"exp1 d7:command10:test-counte") != first
