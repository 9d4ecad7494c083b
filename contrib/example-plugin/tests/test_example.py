"""The example plugin's own tests: the protocols called directly, then a real server.

Run them with ``pip install -e '.[test]' && pytest`` in this directory (rtpgate and its HTTP and
WS transports must be installed for the server tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from rtpgate.api import Message, Rejected
from rtpgate.testing import ServerProcess
from rtpgate_example.protocols import HelloProtocol, ReverseProtocol
from websockets.sync.client import connect


def test_reverse_called_directly() -> None:
    reply = asyncio.run(ReverseProtocol().handle(Message(b"abc", "ws")))
    assert reply.body == b"cba"
    with pytest.raises(Rejected):
        asyncio.run(ReverseProtocol().handle(Message(b"", "ws")))


def test_hello_called_directly() -> None:
    assert asyncio.run(HelloProtocol("hi").handle(Message(b"", "http"))).body == b"hi\n"


def test_served(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--example-greeting=howdy")
    assert server.http("GET", "/hello")[2] == b"howdy\n"
    status, _, body = server.http("POST", "/reverse", b"stressed", {"Content-Type": "text/plain"})
    assert (status, body) == (200, b"desserts")
    with connect(server.ws_url(), subprotocols=["reverse.example.org"],  # type: ignore[list-item]
                 open_timeout=5) as conn:
        conn.send("drawer")
        assert conn.recv(timeout=5) == b"reward"
