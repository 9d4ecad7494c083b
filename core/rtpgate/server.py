"""Builds the running server from the registered protocols and transports, and runs it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
from collections.abc import Callable, Sequence

from . import logsetup, sdnotify
from .config import CoreSettings
from .drain import drain, running_everywhere
from .protocol import DatagramListener, Protocol, Transport
from .runtime import Runtime

log = logging.getLogger("rtpgate.server")


class NoListenerError(OSError):
    """Nothing was bound: a server nobody can reach is refused rather than left running."""


class Server:
    """Assemble (no I/O), then start and stop the transports on the running event loop."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.protocols: list[Protocol] = []
        self.transports: list[Transport] = []
        self._started: list[Transport] = []

    # ------------------------------------------------------------------ assembly

    def assemble(self) -> None:
        host = self.runtime.plugins
        self.protocols = self._unique_protocols(host.protocols(self.runtime))
        for name, transport in host.transports(self.runtime):
            self.transports.append(transport)
            options = ", ".join(f"--{o.replace('_', '-')}" for o in transport.listen_options)
            host.describe(name, f"transport {transport.name}" + (f": {options}" if options else ""))
        for transport in self.transports:
            transport.setup(self.runtime, self.protocols)
        self._warn_unserved_listeners()

    def _warn_unserved_listeners(self) -> None:
        """A listener option with addresses that no installed transport binds is a likely
        mistake (e.g. ``--listen-ng`` without a raw-socket transport): say so once."""
        served = tuple(t for transport in self.transports for t in transport.listener_types)
        for protocol in self.protocols:
            for listener in protocol.listeners:
                addresses = self.runtime.settings.named(listener.option)
                if addresses and not isinstance(listener, served):
                    log.warning("--%s %s is configured, but no installed transport serves %s "
                                "listeners (rtpgate plugins lists the installed transports)",
                                listener.option.replace("_", "-"), ";".join(addresses),
                                "UDP" if isinstance(listener, DatagramListener) else "TCP")

    def _unique_protocols(self, contributed: list[tuple[str, Protocol]]) -> list[Protocol]:
        """Keep the first claim on each route, subprotocol and listener option."""
        host = self.runtime.plugins
        claimed: dict[object, str] = {}
        kept: list[Protocol] = []
        for plugin_name, protocol in contributed:
            keys: list[object] = [("route", r.method, r.path, r.prefix)
                                  for r in protocol.http_routes]
            if protocol.ws_subprotocol:
                keys.append(("ws", protocol.ws_subprotocol))
            keys += [("listener", listener.option) for listener in protocol.listeners]
            clash = [claimed[k] for k in keys if k in claimed]
            if clash:
                message = (f"protocol {protocol.name} of plugin {plugin_name} left out: "
                           f"its addresses are already served by {', '.join(sorted(set(clash)))}")
                log.error("%s", message)
                host.describe(plugin_name, f"conflict: {message}")
                continue
            for key in keys:
                claimed[key] = f"{plugin_name}/{protocol.name}"
            kept.append(protocol)
            for line in protocol.describe():
                host.describe(plugin_name, f"protocol {protocol.name}: {line}")
        return kept

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        try:
            if self.runtime.workers is not None:  # siblings may forward as soon as we listen
                await self.runtime.workers.start()
            for transport in self.transports:
                bound = await transport.start()
                self._started.append(transport)
                self.runtime.bound.extend(bound)
            if not self.runtime.bound:
                raise NoListenerError(self._no_listener_reason())
            await self.runtime.plugins.startup(self.runtime)
        except BaseException:
            await self.stop()
            raise
        for address in self.runtime.bound:
            log.info("listening: %s", address)
        ready_file = self.runtime.settings.view(CoreSettings).ready_file
        if ready_file:
            write_ready_file(ready_file, self.runtime)

    def _no_listener_reason(self) -> str:
        transports = ", ".join(t.name for t in self.transports) or "none"
        return (f"no listener is open, nothing could reach this server (transports loaded: "
                f"{transports}); check --plugins-allow, --plugins-deny and the --listen-* "
                f"options (rtpgate plugins lists what is loaded)")

    async def stop(self) -> None:
        for transport in reversed(self._started):
            try:
                await transport.stop()
            except Exception:
                log.exception("transport %s failed to stop cleanly", transport.name)
        self._started.clear()
        for plugin_name, exc in await self.runtime.plugins.shutdown(self.runtime):
            log.error("shutdown hook of plugin %s failed", plugin_name, exc_info=exc)
        if self.runtime.workers is not None:
            await self.runtime.workers.stop()


def write_ready_file(path: str, runtime: Runtime) -> None:
    """Atomically write ``{"pid": ..., "listeners": [{"kind", "host", "port"}, ...]}``."""
    data = {"pid": os.getpid(),
            "listeners": [{"kind": b.kind, "host": b.host, "port": b.port}
                          for b in runtime.bound]}
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed, else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


async def serve(server: Server, stop_signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT),
                on_ready: Callable[[], None] | None = None) -> None:
    """Start, tell whoever waits (the daemon's parent, systemd), wait for a stop signal, drain
    (:mod:`rtpgate.drain`), stop.  SIGHUP reopens the log file."""
    loop = asyncio.get_running_loop()
    signals = asyncio.Queue[int]()
    for sig in stop_signals:
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    loop.add_signal_handler(signal.SIGHUP, _reopen_logs)
    await server.start()
    # Everything built so far (modules, settings, plugins) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise pause the loop for tens of ms.
    gc.freeze()
    workers = server.runtime.workers
    log.log(25, "rtpgate ready, pid %d%s", os.getpid(),
            f", worker {workers.index} of {workers.count}" if workers else "")
    if on_ready is not None:
        on_ready()
    sdnotify.ready(f"serving on {len(server.runtime.bound)} listener(s)")
    await signals.get()
    sdnotify.stopping("shutting down")
    deadline = server.runtime.settings.view(CoreSettings).shutdown_deadline
    if deadline > 0 and await running_everywhere(server.runtime):
        await drain(server.runtime, deadline, signals)
    log.log(25, "shutting down")
    for sig in (*stop_signals, signal.SIGHUP):
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)
    await server.stop()


def _reopen_logs() -> None:
    if logsetup.reopen():
        log.log(25, "log file reopened (SIGHUP)")
    else:
        log.log(25, "SIGHUP: no log file to reopen")
