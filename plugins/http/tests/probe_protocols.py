"""Test-only protocols for the HTTP transport, loaded into the server with ``--plugin``.

Each reply says which protocol answered and what the transport handed it, so a test can check
routing and decoding from the outside.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from rtpgate.api import HttpRoute, Message, Protocol, Rejected, Reply, Runtime, hookimpl


def _describe(name: str, message: Message) -> Reply:
    text = (f"{name} {message.transport} {message.method} {message.path!r} "
            f"{message.content_type!r} {len(message.body)}\n")
    return Reply(text.encode() + message.body, "text/plain")


class Exact(Protocol):
    name = "probe-exact"
    http_routes = (HttpRoute("GET", "/probe/exact"),)

    async def handle(self, message: Message) -> Reply:
        return _describe(self.name, message)


class Prefix(Protocol):
    name = "probe-prefix"
    http_routes = (HttpRoute("GET", "/probe/prefix/", prefix=True),)

    async def handle(self, message: Message) -> Reply:
        return _describe(self.name, message)


class Typed(Protocol):
    """POST with one accepted content type; the body comes back after the description."""

    name = "probe-typed"
    http_routes = (HttpRoute("POST", "/probe/typed", content_types=("application/x-probe",)),)

    async def handle(self, message: Message) -> Reply:
        return _describe(self.name, message)


class Reject(Protocol):
    name = "probe-reject"
    http_routes = (HttpRoute("GET", "/probe/reject"),)

    async def handle(self, message: Message) -> Reply:
        raise Rejected(600, b"error\n")


class Boom(Protocol):
    name = "probe-boom"
    http_routes = (HttpRoute("GET", "/probe/boom"),)

    async def handle(self, message: Message) -> Reply:
        raise RuntimeError("probe failure")


class Slow(Protocol):
    """Answers after 300 ms, to show that pipelined replies keep the request order."""

    name = "probe-slow"
    http_routes = (HttpRoute("GET", "/probe/slow"),)

    async def handle(self, message: Message) -> Reply:
        await asyncio.sleep(0.3)
        return Reply(b"slow\n")


class Silent(Protocol):
    name = "probe-silent"
    http_routes = (HttpRoute("GET", "/probe/silent"),)

    async def handle(self, message: Message) -> None:
        return None


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [Exact(), Prefix(), Typed(), Reject(), Boom(), Slow(), Silent()]
