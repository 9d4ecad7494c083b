"""A third-party-style plugin (loaded with ``--plugin thirdparty_probe``): one HTTP route and one
WebSocket subprotocol, and not a line about access control."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.protocol import HttpRoute, Message, Protocol, Reply
from rtpgate.runtime import Runtime


class ThirdParty(Protocol):
    name = "thirdparty"
    http_routes = (HttpRoute("GET", "/thirdparty"),)
    ws_subprotocol = "thirdparty.example.com"

    async def handle(self, message: Message) -> Reply:
        return Reply(b"third party " + message.body, "text/plain")


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [ThirdParty()]
