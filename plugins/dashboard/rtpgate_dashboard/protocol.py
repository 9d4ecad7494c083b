"""The dashboard protocol: the page (``GET /dashboard`` and its two assets) and the
``dashboard.rtpgate`` WebSocket subprotocol that feeds it.

The WebSocket carries JSON.  The server sends, on connecting, ``{"type": "history"}`` (the chart
points of the last 15 minutes) and then, once a second, ``{"type": "tick"}`` with the summary, the
client's page of the calls table and, if it has one open, its call's page.  The client sends
``{"view": {...}}`` (offset, limit, sort, descending, filter, call) to page, sort, filter or
open a call, and gets the new ``tick`` at once in reply.

With several workers (``--num-threads``) the worker a page's WebSocket landed on asks every
worker for its part of that tick (:mod:`.siblings`) and sends the sum (:mod:`.merge`): the
page shows the whole server whichever worker serves it.  With one worker nothing is asked.
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

from . import merge
from .access import REFUSAL, Access
from .calls import CallsTable, View
from .sampler import Sampler
from .siblings import Siblings

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
#: Seconds a call opened on another worker's page stays watched here (its sparklines kept).
REMOTE_WATCH = 3.0


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
        self._welcomes: set[asyncio.Task[None]] = set()
        workers = runtime.workers
        #: The other workers' parts of the page; ``None`` with one worker.
        self.siblings = (Siblings(workers, self.part)
                         if workers is not None and workers.count > 1 else None)
        #: Calls this worker owns that pages served by other workers have open, until when.
        self._remote: dict[str, float] = {}
        #: CPU time (of the event loop's thread) the dashboard's own work took, so the page
        #: and bench/dashboard.py can show what watching costs.
        self.cpu_seconds = 0.0

    # ------------------------------------------------------------------ HTTP

    async def handle(self, message: Message) -> Reply | None:
        if message.channel is not None:
            if self.siblings is not None:
                return await self._view_changed_merged(message)
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
        client = self.clients[channel] = Client(channel)
        if self.siblings is not None:
            task = asyncio.get_running_loop().create_task(self._send_merged([client], True))
            self._welcomes.add(task)
            task.add_done_callback(self._welcomes.discard)
            return
        started = time.thread_time()
        self._refresh()
        self.cpu_seconds += time.thread_time() - started
        channel.send(_dumps({"type": "history", "points": list(self.sampler.points)}))
        # the first tick follows the history once the client has taken it
        asyncio.get_running_loop().call_later(0.05, self._send, client, None)

    def ws_closed(self, channel: Channel) -> None:
        self.clients.pop(channel, None)

    def _view_changed(self, message: Message) -> Reply | None:
        client = self._changed_client(message)
        if client is None:
            return None
        if client.view.call and not self.table.watches(client.view.call):
            self._refresh()
        return Reply(self._tick(client, None))

    async def _view_changed_merged(self, message: Message) -> Reply | None:
        client = self._changed_client(message)
        if client is None:
            return None
        parts = await self.siblings.parts(  # type: ignore[union-attr]
            {"views": [client.view.as_dict()]})
        return Reply(self._merged_tick(client.view, parts, 0, _dumps(self._summary(parts))))

    def _changed_client(self, message: Message) -> Client | None:
        """The client whose ``{"view": ...}`` this is, its view updated; ``None`` if none."""
        client = self.clients.get(message.channel) if message.channel else None
        if client is None:
            return None
        try:
            request = json.loads(message.body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(request, dict) or not isinstance(request.get("view"), dict):
            return None
        client.view.update(request["view"])
        return client

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
                if self.clients and self.siblings is not None:
                    await self._send_merged(list(self.clients.values()))
                elif self.clients:
                    self._refresh()
                    for client in list(self.clients.values()):
                        self._send(client, encoded)
            except Exception:
                log.exception("dashboard tick failed")
            self.cpu_seconds += time.thread_time() - started

    def _refresh(self) -> None:
        watched = {c.view.call for c in self.clients.values() if c.view.call}
        self.table.refresh(self.runtime.engine.by_id.values(), watched | set(self._remote))

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

    # ------------------------------------------------------------------ several workers

    async def part(self, argument: Any) -> dict[str, Any]:
        """This worker's part of the page for ``argument`` (``views``: the view of each page
        being served, ``history``: whether the chart points are wanted): its summary, the head
        of its calls table for each view and the page of each open call it owns."""
        started = time.thread_time()
        workers = self.runtime.workers
        assert workers is not None
        views = []
        for changes in argument.get("views", ()):
            view = View()
            view.update(changes)
            views.append(view)
        now = time.monotonic()
        opened = {v.call for v in views if v.call and workers.owns(v.call)}
        for call_id in opened:
            self._remote[call_id] = now + REMOTE_WATCH
        for call_id, until in list(self._remote.items()):
            if until < now:
                del self._remote[call_id]
        if not self.sampler.summary:
            self.sampler.tick()
        if now - self.table.refreshed > 0.5 or any(not self.table.watches(c) for c in opened):
            self._refresh()
        engine = self.runtime.engine
        part: dict[str, Any] = {
            "worker": workers.index,
            "summary": {k: v for k, v in self.sampler.summary.items() if k != "plugins"},
            "heads": [self.table.head(view) for view in views],
            "calls": {call_id: self.table.detail(engine.call(call_id), call_id)
                      for call_id in opened},
        }
        if argument.get("history"):
            part["points"] = list(self.sampler.points)
        self.cpu_seconds += time.thread_time() - started
        return part

    async def _send_merged(self, clients: list[Client], history: bool = False) -> None:
        """One tick (and first the chart history if asked) to each of ``clients``, every
        worker's parts put together."""
        parts = await self.siblings.parts(  # type: ignore[union-attr]
            {"views": [c.view.as_dict() for c in clients], "history": history})
        started = time.thread_time()
        summary = _dumps(self._summary(parts))
        points = None
        if history:
            points = _dumps({"type": "history", "points": merge.history(
                parts[0]["points"], [p["points"] for p in parts[1:]])})
        for index, client in enumerate(clients):
            if client.channel.closed:
                continue
            if points is not None:
                client.channel.send(points)
            client.channel.send(self._merged_tick(client.view, parts, index, summary))
        self.cpu_seconds += time.thread_time() - started

    def _summary(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """The whole server's summary; this worker's plugins (every worker loads the same)."""
        own = dict(parts[0]["summary"])
        own["plugins"] = self.sampler.summary.get("plugins", [])
        return merge.summary([{**parts[0], "summary": own}, *parts[1:]],
                             self.siblings.count if self.siblings else 1)

    def _merged_tick(self, view: View, parts: list[dict[str, Any]], index: int,
                     summary: bytes) -> bytes:
        """A tick for the ``index``-th view asked of ``parts``; the open call's page from its
        owner, ``null`` while its owner does not answer."""
        calls = merge.page(view, [part["heads"][index] for part in parts])
        call = None
        if view.call is not None:
            call = next((part["calls"][view.call] for part in parts
                         if view.call in part["calls"]), None)
        return (b'{"type":"tick","summary":' + summary + b',"calls":' + _dumps(calls)
                + b',"call":' + _dumps(call) + b"}")
