"""The CLI on every transport: ``GET /cli/<command>``, ``POST /cli`` (``text/plain``), the
``cli.rtpengine.com`` WebSocket subprotocol and the TCP port of ``--listen-cli`` (one line in,
the output back, then the connection is closed, as ``rtpengine-ctl`` expects)."""

from __future__ import annotations

from rtpgate.api import HttpRoute, Message, Protocol, Reply, StreamListener

from .service import CliService

GET_PREFIX = "/cli/"
#: rtpengine closes a CLI connection whose first line is not complete within 1024 bytes.
MAX_LINE = 1024


def line_framer(buffer: bytes) -> tuple[list[bytes], int]:
    """One message per ``\\n``-terminated line (a ``\\r`` before it is dropped)."""
    messages = []
    used = 0
    while (end := buffer.find(b"\n", used)) >= 0:
        messages.append(buffer[used:end].removesuffix(b"\r"))
        used = end + 1
    return messages, used


def decode(body: bytes) -> str:
    """Bytes to text and back without loss (call IDs are arbitrary bytes)."""
    return body.decode("utf-8", "surrogateescape")


class CliProtocol(Protocol):
    name = "cli"
    http_routes = (HttpRoute("GET", GET_PREFIX, prefix=True),
                   HttpRoute("POST", "/cli", content_types=("text/plain",)))
    ws_subprotocol = "cli.rtpengine.com"
    listeners = (StreamListener("listen_cli", line_framer, close_after_reply=True,
                                max_buffer=MAX_LINE),)

    def __init__(self, service: CliService) -> None:
        self.service = service

    async def handle(self, message: Message) -> Reply:
        is_get = message.method == "GET"
        line = message.path[len(GET_PREFIX):] if is_get else decode(message.body)
        output = await self.service.run(line)
        return Reply(output.encode("utf-8", "surrogateescape"), "text/plain")
