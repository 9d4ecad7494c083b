"""The dashboard protocol: the page (``GET /dashboard`` and its two assets) and the
``dashboard.rtpgate`` WebSocket subprotocol that feeds it.

The WebSocket carries JSON.  The server sends, on connecting, ``{"type": "history"}`` (the chart
points of the last 15 minutes) and then, once a second, ``{"type": "tick"}`` with the summary, the
client's page of the calls table and, if it has one open, its call's page.  The client sends
``{"view": {...}}`` (offset, limit, sort, descending, filter, call) to page, sort, filter or
open a call, and gets the new ``tick`` at once in reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from rtpgate.api import Channel, HttpRoute, Message, Protocol, Reply

from .access import REFUSAL, Access
from .calls import CallsTable, View
from .sampler import Sampler

if TYPE_CHECKING:
    from rtpgate.api import Runtime

log = logging.getLogger("rtpgate.dashboard")

SUBPROTOCOL = "dashboard.rtpgate"
PATH = "/dashboard"
#: Files of the page, by the path they are served at.
ASSETS = {f"{PATH}/app.js": ("app.js", "text/javascript; charset=utf-8"),
          f"{PATH}/app.css": ("app.css", "text/css; charset=utf-8")}
NO_STORE = (("Cache-Control", "no-store"),)
NOT_FOUND = Reply(b"not found\n", "text/plain", 404)


def _asset(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(slots=True, eq=False)
class Client:
    channel: Channel
    view: View = field(default_factory=View)


class DashboardProtocol(Protocol):
    name = "dashboard"
    http_routes = (HttpRoute("GET", PATH), HttpRoute("GET", f"{PATH}/", prefix=True))
    ws_subprotocol = SUBPROTOCOL

    def __init__(self, runtime: Runtime, access: Access) -> None:
        self.runtime = runtime
        self.access = access
        self.sampler = Sampler(runtime)
        self.table = CallsTable()
        self.clients: dict[Channel, Client] = {}
        self._page = _asset("index.html")
        self._assets = {path: Reply(_asset(name), ctype, headers=NO_STORE)
                        for path, (name, ctype) in ASSETS.items()}
        self._task: asyncio.Task[None] | None = None
        #: CPU time (of the event loop's thread) the dashboard's own work took, so the page
        #: and bench/dashboard.py can show what watching costs.
        self.cpu_seconds = 0.0

    # ------------------------------------------------------------------ HTTP

    async def handle(self, message: Message) -> Reply | None:
        if message.channel is not None:
            started = time.thread_time()
            try:
                return self._view_changed(message)
            finally:
                self.cpu_seconds += time.thread_time() - started
        if not self.access.allowed(message):
            return REFUSAL
        if message.path == PATH:
            return Reply(self._page, "text/html; charset=utf-8", headers=NO_STORE)
        return self._assets.get(message.path, NOT_FOUND)

    # ------------------------------------------------------------------ WebSocket

    def ws_handshake(self, request: Message) -> Reply | None:
        return None if self.access.allowed(request, websocket=True) else REFUSAL

    def ws_opened(self, channel: Channel) -> None:
        started = time.thread_time()
        client = self.clients[channel] = Client(channel)
        self._refresh()
        self.cpu_seconds += time.thread_time() - started
        channel.send(_dumps({"type": "history", "points": list(self.sampler.points)}))
        # the first tick follows the history once the client has taken it
        asyncio.get_running_loop().call_later(0.05, self._send, client, None)

    def ws_closed(self, channel: Channel) -> None:
        self.clients.pop(channel, None)

    def _view_changed(self, message: Message) -> Reply | None:
        client = self.clients.get(message.channel) if message.channel else None
        if client is None:
            return None
        try:
            request = json.loads(message.body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(request, dict) or not isinstance(request.get("view"), dict):
            return None
        opened = request["view"].get("call")
        client.view.update(request["view"])
        if opened and not self.table.watches(opened):
            self._refresh()
        return Reply(self._tick(client, None))

    # ------------------------------------------------------------------ ticking

    def start(self) -> None:
        if self._task is None:
            self.sampler.tick()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += 1.0
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() - next_at > 5.0:
                next_at = loop.time()  # the loop was stalled: do not catch up in a burst
            started = time.thread_time()
            try:
                summary = self.sampler.tick()
                summary["dashboard"] = {"cpu_seconds": round(self.cpu_seconds, 6),
                                        "clients": len(self.clients)}
                encoded = _dumps(summary)
                if self.clients:
                    self._refresh()
                    for client in list(self.clients.values()):
                        self._send(client, encoded)
            except Exception:
                log.exception("dashboard tick failed")
            self.cpu_seconds += time.thread_time() - started

    def _refresh(self) -> None:
        watched = {c.view.call for c in self.clients.values() if c.view.call}
        self.table.refresh(self.runtime.engine.by_id.values(), watched)

    def _send(self, client: Client, summary: bytes | None) -> None:
        if not client.channel.closed:
            client.channel.send(self._tick(client, summary))

    def _tick(self, client: Client, summary: bytes | None) -> bytes:
        if summary is None:
            summary = _dumps(self.sampler.summary)
        view = client.view
        call = None
        if view.call is not None:
            call = _dumps(self.table.detail(self.runtime.engine.call(view.call), view.call))
        return (b'{"type":"tick","summary":' + summary + b',"calls":'
                + _dumps(self.table.page(view)) + b',"call":' + (call or b"null") + b"}")
