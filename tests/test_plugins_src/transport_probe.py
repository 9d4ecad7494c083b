"""Test plugin contributing a transport through ``rtpgate_transports``: a TCP listener that
greets each connection with the names of the protocols it was set up with, then closes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence

from rtpgate import hookimpl
from rtpgate.protocol import BoundAddress, Protocol, Transport
from rtpgate.runtime import Runtime

log = logging.getLogger("rtpgate.transport_probe")


class GreetingTransport(Transport):
    name = "greeting"

    def setup(self, runtime: Runtime, protocols: Sequence[Protocol]) -> None:
        self.greeting = ("protocols: " + " ".join(sorted(p.name for p in protocols))
                         + "\n").encode()
        self.server: asyncio.Server | None = None

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.greeting)
        await writer.drain()
        writer.close()

    async def start(self) -> list[BoundAddress]:
        self.server = await asyncio.start_server(self._greet, "127.0.0.1", 0)
        host, port = self.server.sockets[0].getsockname()[:2]
        return [BoundAddress("greeting", host, port)]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        log.info("greeting transport stopped")


@hookimpl
def rtpgate_transports(runtime: Runtime) -> Iterable[Transport]:
    return [GreetingTransport()]
