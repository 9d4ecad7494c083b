"""The raw-socket transport: binds the addresses of every listener the protocols declare.

A :class:`~rtpgate.protocol.DatagramListener` is served over UDP, a
:class:`~rtpgate.protocol.StreamListener` over TCP; the addresses come from the settings field
the listener names (``listen_ng`` -> ``--listen-ng``), so the transport knows no protocol and no
option by name.  Each bound socket is reported as ``<name>-udp`` or ``<name>-tcp``, the name being
the option's without ``listen`` and ``udp``/``tcp`` (``listen_tcp_ng`` -> ``ng-tcp``,
``listen_cli`` -> ``cli-tcp``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from rtpgate.api import (
    BoundAddress,
    ConfigError,
    DatagramListener,
    Endpoint,
    Listener,
    Protocol,
    Runtime,
    SourceFilter,
    StreamListener,
    Transport,
    parse_endpoint,
    source_filter,
    warn_if_open,
)

from .binding import bind
from .datagram import DatagramEndpoint, Guard, Spawn
from .stream import StreamService
from .tos import ControlTos, TosSettings

log = logging.getLogger("rtpgate.udp")

#: How long stopping waits for messages still being handled before cancelling them.
STOP_GRACE = 2.0


def kind_of(listener: Listener) -> str:
    """``listen_ng`` (UDP) -> ``ng-udp``; ``listen_tcp_ng`` -> ``ng-tcp``; ``listen_cli`` ->
    ``cli-tcp``."""
    words = [w for w in listener.option.split("_") if w not in ("listen", "udp", "tcp")]
    suffix = "udp" if isinstance(listener, DatagramListener) else "tcp"
    return "-".join([*words, suffix])


def option_flag(listener: Listener) -> str:
    return "--" + listener.option.replace("_", "-")


def _spawner(loop: asyncio.AbstractEventLoop) -> Spawn:
    if sys.version_info >= (3, 12):
        def spawn(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
            return asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        return spawn
    return loop.create_task


class RawSocketTransport(Transport):
    """UDP and TCP listeners for every protocol that declares them."""

    name = "udp"
    listener_types = (DatagramListener, StreamListener)

    def setup(self, runtime: Runtime, protocols: Sequence[Protocol]) -> None:
        settings = runtime.settings
        self.settings = settings.view(TosSettings)
        self.reuse_port = runtime.reuse_port
        self.access = runtime.stats.access
        self.plan: list[tuple[Protocol, Listener, list[Endpoint], SourceFilter]] = []
        for protocol in protocols:
            for listener in protocol.listeners:
                if listener.option not in type(settings).model_fields:
                    log.error("protocol %s wants a listener on %s, but no plugin declares that "
                              "option; not served", protocol.name, option_flag(listener))
                    continue
                value = settings.named(listener.option) or []
                addresses = [value] if isinstance(value, str) else list(value)
                try:
                    allowed = source_filter(settings, listener.option)
                except ValueError as exc:
                    raise ConfigError(str(exc)) from None
                self.plan.append((protocol, listener, [parse_endpoint(a) for a in addresses],
                                  allowed))
        self.endpoints: list[DatagramEndpoint] = []
        self.services: list[StreamService] = []
        self.servers: list[asyncio.Server] = []

    async def start(self) -> list[BoundAddress]:
        loop = asyncio.get_running_loop()
        spawn = _spawner(loop)
        bound: list[BoundAddress] = []
        try:
            for protocol, listener, endpoints, allowed in self.plan:
                kind = kind_of(listener)
                guard = Guard(allowed, self.access, kind)
                for endpoint in endpoints:
                    try:
                        opened = await self._open(protocol, listener, endpoint, guard, spawn)
                        for address in opened:
                            warn_if_open(kind, address.host, bool(allowed))
                        bound += opened
                    except OSError as exc:
                        raise OSError(exc.errno, f"{option_flag(listener)}: "
                                                 f"{exc.strerror or exc}") from exc
        except BaseException:
            await self.stop()
            raise
        return bound

    async def _open(self, protocol: Protocol, listener: Listener, endpoint: Endpoint,
                    guard: Guard, spawn: Spawn) -> list[BoundAddress]:
        kind = guard.kind
        if isinstance(listener, DatagramListener):
            sockets = bind(endpoint, socket.SOCK_DGRAM, reuse_port=self.reuse_port)
            for item in sockets:
                datagram = DatagramEndpoint(item, protocol, listener, spawn,
                                            ControlTos(self.settings), guard)
                self.endpoints.append(datagram)
                datagram.start()
        else:
            assert isinstance(listener, StreamListener)
            sockets = bind(endpoint, socket.SOCK_STREAM, reuse_port=self.reuse_port)
            service = StreamService(protocol, listener, spawn, self.settings, guard)
            self.services.append(service)
            loop = asyncio.get_running_loop()
            for item in sockets:
                self.servers.append(await loop.create_server(service.connection, sock=item.sock))
        return [BoundAddress(kind, item.host, item.port) for item in sockets]

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for endpoint in self.endpoints:
            endpoint.close()
        for service in self.services:
            service.close_all()
        pending = {task for endpoint in self.endpoints for task in endpoint.tasks}
        pending.update(task for service in self.services for task in service.tasks)
        if pending:
            _, late = await asyncio.wait(pending, timeout=STOP_GRACE)
            for task in late:
                task.cancel()
        self.servers.clear()
        self.endpoints.clear()
        self.services.clear()
