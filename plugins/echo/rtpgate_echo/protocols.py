"""``GET /ping`` answers ``pong``; ``echo.rtpengine.com`` sends every message back."""

from __future__ import annotations

from rtpgate.api import HttpRoute, Message, Protocol, Reply

PONG = Reply(b"pong\n", "text/plain")


class PingProtocol(Protocol):
    name = "ping"
    http_routes = (HttpRoute("GET", "/ping"),)

    async def handle(self, message: Message) -> Reply:
        return PONG


class EchoProtocol(Protocol):
    name = "echo"
    ws_subprotocol = "echo.rtpengine.com"

    async def handle(self, message: Message) -> Reply | None:
        # rtpengine sends nothing back for an empty message
        return Reply(message.body, None) if message.body else None
