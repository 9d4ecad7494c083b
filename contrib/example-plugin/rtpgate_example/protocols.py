"""Two small protocols.  Neither imports Tornado nor touches a socket: rtpgate's transports
deliver a :class:`~rtpgate.protocol.Message` and send back the :class:`~rtpgate.protocol.Reply`."""

from __future__ import annotations

from rtpgate.api import HttpRoute, Message, Protocol, Rejected, Reply


class HelloProtocol(Protocol):
    """``GET /hello`` answers a greeting taken from the ``--example-greeting`` option."""

    name = "hello"
    http_routes = (HttpRoute("GET", "/hello"),)

    def __init__(self, greeting: str) -> None:
        self.reply = Reply(f"{greeting}\n".encode(), "text/plain")

    async def handle(self, message: Message) -> Reply:
        return self.reply


class ReverseProtocol(Protocol):
    """Reverses each message: over WebSocket (subprotocol ``reverse.example.org``) and over
    ``POST /reverse`` with ``Content-Type: text/plain``.  An empty message is refused: HTTP
    answers 400, WebSocket sends nothing."""

    name = "reverse"
    ws_subprotocol = "reverse.example.org"
    http_routes = (HttpRoute("POST", "/reverse", content_types=("text/plain",)),)

    async def handle(self, message: Message) -> Reply:
        if not message.body:
            raise Rejected(400, b"nothing to reverse\n")
        return Reply(message.body[::-1], "text/plain")
