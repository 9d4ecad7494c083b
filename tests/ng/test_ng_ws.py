"""ng over WebSocket: ng.rtpengine.com (cookies) and ng-plain.rtpengine.com."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from rtpgate.testing import ServerProcess


async def _session(server: ServerProcess, subprotocol: str, messages: list[str | bytes],
                   expect: int, timeout: float = 5.0) -> list[bytes]:
    async with websockets.connect(server.ws_url(), subprotocols=[subprotocol]) as ws:
        for message in messages:
            await ws.send(message)
        replies = []
        for _ in range(expect):
            reply = await asyncio.wait_for(ws.recv(), timeout)
            assert isinstance(reply, bytes), "every reply is a binary frame"
            replies.append(reply)
        with pytest.raises(asyncio.TimeoutError):  # and nothing more
            await asyncio.wait_for(ws.recv(), 0.3)
        return replies


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_text_and_binary_frames_get_binary_replies(shared_server: ServerProcess) -> None:
    replies = run(_session(shared_server, "ng.rtpengine.com",
                           ["w1 d7:command4:pinge", b'w2 {"command":"ping"}'], 2))
    assert replies == [b"w1 d6:result4:ponge", b'w2 {"result":"pong"}']


def test_message_without_cookie_gets_no_reply_and_the_connection_lives(
        shared_server: ServerProcess) -> None:
    replies = run(_session(shared_server, "ng.rtpengine.com",
                           ["d7:command4:pinge", " d7:command4:pinge", "", "w3 d7:command4:pinge"],
                           1))
    assert replies == [b"w3 d6:result4:ponge"]


def test_errors_over_ws(shared_server: ServerProcess) -> None:
    replies = run(_session(shared_server, "ng.rtpengine.com",
                           ["w4 d7:command4:pin", "w5 d7:command4:nopee"], 2))
    assert replies == [
        b"w4 d6:result5:error12:error-reason35:Could not decode bencode dictionarye",
        b"w5 d6:result5:error12:error-reason20:Unrecognized commande"]


def test_twenty_pipelined_requests_each_answered_with_its_own_cookie(
        shared_server: ServerProcess) -> None:
    # as rtpengine's own WS test (TestNG._testQueuedStats), but with replies in order
    messages = [f"test{i} d7:command10:test-sleep7:seconds4:0.01e" for i in range(20)]
    replies = run(_session(shared_server, "ng.rtpengine.com", messages, 20))
    assert [r.split(b" ", 1)[0] for r in replies] == [f"test{i}".encode() for i in range(20)]
    assert all(r.endswith(b"6:result2:oke") for r in replies)


def test_large_fragmented_offer_sized_message(shared_server: ServerProcess) -> None:
    label = "x" * 70_000

    async def go() -> bytes:
        async with websockets.connect(shared_server.ws_url(),
                                      subprotocols=["ng.rtpengine.com"]) as ws:
            body = (f"big1 d7:command10:test-sleep5:label{len(label)}:{label}e").encode()
            await ws.send([body[:30_000], body[30_000:]])  # two fragments
            reply = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(reply, bytes)
            return reply

    assert run(go()).startswith(b"big1 d5:slept")


def test_ng_plain_subprotocol(shared_server: ServerProcess) -> None:
    replies = run(_session(shared_server, "ng-plain.rtpengine.com",
                           ['{"command":"ping"}', "d7:command4:pinge",
                            'ck1 {"command":"ping"}'], 3))
    assert replies == [b'{"result":"pong"}', b"d6:result4:ponge",
                       b"d6:result5:error12:error-reason22:Invalid NG data formate"]
