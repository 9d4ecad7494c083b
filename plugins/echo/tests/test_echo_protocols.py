"""The echo plugin's protocols called directly (they are transport-free), and its hook."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest
import rtpgate_echo.plugin
from rtpgate.api import HttpRoute, Message, Protocol, Reply
from rtpgate.testing import make_runtime
from rtpgate_echo.protocols import EchoProtocol, PingProtocol


def handle(protocol: Protocol, message: Message) -> Reply | None:
    return asyncio.run(protocol.handle(message))


def test_ping_answers_pong() -> None:
    reply = handle(PingProtocol(), Message(b"", "http", method="GET", path="/ping"))
    assert reply == Reply(b"pong\n", "text/plain", 200)


def test_ping_declares_get_ping_only() -> None:
    protocol = PingProtocol()
    assert list(protocol.http_routes) == [HttpRoute("GET", "/ping")]
    assert protocol.ws_subprotocol is None and not protocol.listeners


@pytest.mark.parametrize("body", [b"x", b"hello world", bytes(range(256)), b"\x00" * 70_000])
def test_echo_returns_the_message_unchanged(body: bytes) -> None:
    reply = handle(EchoProtocol(), Message(body, "ws"))
    assert reply is not None and reply.body == body


def test_echo_sends_nothing_for_an_empty_message() -> None:
    assert handle(EchoProtocol(), Message(b"", "ws")) is None


def test_echo_declares_its_subprotocol_only() -> None:
    protocol = EchoProtocol()
    assert protocol.ws_subprotocol == "echo.rtpengine.com"
    assert not protocol.http_routes and not protocol.listeners
    assert protocol.describe() == ["WebSocket echo.rtpengine.com"]


def test_rtpgate_protocols_hook_contributes_both() -> None:
    runtime = make_runtime(rtpgate_echo.plugin)
    contributed = runtime.plugins.protocols(runtime)
    assert [(name, type(p)) for name, p in contributed] == [
        ("rtpgate_echo.plugin", PingProtocol), ("rtpgate_echo.plugin", EchoProtocol)]


def test_published_under_the_rtpgate_entry_point_group() -> None:
    points = {ep.name: ep for ep in importlib.metadata.entry_points(group="rtpgate")}
    assert points["echo"].value == "rtpgate_echo.plugin"
    assert points["echo"].load() is rtpgate_echo.plugin
