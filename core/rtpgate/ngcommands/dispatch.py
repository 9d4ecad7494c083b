"""Runs one ng payload: decode, find the command, validate, handle, encode.

Error texts and the order they are checked in follow rtpengine's ``control_ng_process_payload``;
each request is counted per proxy address and command in the control statistics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import pydantic

from . import codec
from .command import LoadLimit, NgCommand, NgContext, NgError

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger("rtpgate.ng")
LOAD_LIMIT_ERROR = "Parallel session limit reached"


class ReplyCache(Protocol):
    """Answers a repeated key with the reply its first request got (the ng cookie cache)."""

    async def run(self, key: bytes, compute: Callable[[], Awaitable[bytes]]) -> bytes: ...


class NgDispatcher:
    """All registered ng commands, by every name a client may use."""

    def __init__(self, runtime: Runtime, commands: Iterable[tuple[str, NgCommand]]) -> None:
        """``commands`` are ``(plugin name, command)`` pairs; a later claim on a taken name is
        reported and left out."""
        self.runtime = runtime
        self.commands: list[NgCommand] = []
        self._by_name: dict[str, NgCommand] = {}
        #: Where the worker that runs a keyed request keeps its reply, with several workers
        #: (:attr:`routed`); set by the protocol that owns the keys (``None``: no cache).
        self.reply_cache: ReplyCache | None = None
        for plugin_name, command in commands:
            names = (command.name, *command.aliases)
            taken = [n for n in names if n in self._by_name]
            if taken:
                message = f"ng command {taken[0]!r} of plugin {plugin_name} left out: taken"
                log.error("%s", message)
                runtime.plugins.describe(plugin_name, f"conflict: {message}")
                continue
            self.commands.append(command)
            runtime.plugins.describe(plugin_name, f"ng command: {command.name}")
            for name in names:
                self._by_name[name] = command

    def command(self, name: str) -> NgCommand | None:
        return self._by_name.get(name)

    def max_items(self) -> int:
        value: int = self.runtime.settings.named("ng_max_items", codec.MAX_ITEMS)
        return value

    @property
    def routed(self) -> bool:
        """Several workers share the calls: requests go through :meth:`process` with their
        duplicate key, and the worker that runs one answers duplicates from
        :attr:`reply_cache` (a protocol's own cache in front would miss the duplicates that
        land on another worker)."""
        return self.runtime.workers is not None

    async def process(self, payload: bytes, peer: tuple[str, int] | None,
                      transport: str, max_reply: int | None = None,
                      key: bytes | None = None, listener: tuple[str, int] | None = None,
                      droppable: bool = False) -> bytes:
        """One payload in, one encoded reply out (every outcome gets a reply, but see
        ``droppable``).  A reply longer than ``max_reply`` bytes (what a datagram can carry) is
        replaced by an error that fits; commands that create state check it themselves and
        undo what they made.  ``key`` identifies retransmissions (the ng cookie): with several
        workers it travels with the request to the worker that runs it
        (:mod:`rtpgate.workers.routing`); with one worker the protocol caches replies itself
        and it is unused.  With several workers, ``listener`` (the local address the request
        arrived on) chooses its share of the places at the sibling that must run it, and a
        ``droppable`` request (one that came as a datagram: its sender retransmits) finding
        none free is dropped: :class:`~rtpgate.protocol.Rejected` is raised, for which a
        datagram transport sends nothing (:mod:`rtpgate.workers.budget`)."""
        workers = self.runtime.workers
        if workers is not None:
            return await workers.process(self, payload, peer, transport, max_reply, key,
                                         listener, droppable)
        return await self.run_local(payload, peer, transport, max_reply)

    async def run_local(self, payload: bytes, peer: tuple[str, int] | None, transport: str,
                        max_reply: int | None = None,
                        decoded: tuple[dict[str, Any], codec.Format] | None = None,
                        counted: bool = True) -> bytes:
        """:meth:`process` on this worker's calls (``decoded``: ``payload`` already decoded,
        with its format; ``counted``: whether the control statistics count it, not for the
        siblings' parts of a gathered command)."""
        started = time.perf_counter()
        proxy = peer[0] if peer else "unknown"
        if decoded is not None:
            request, fmt = decoded
        else:
            try:
                request, fmt = codec.decode(payload, self.max_items())
            except codec.DecodeError as exc:
                self.runtime.stats.control.record(proxy, None, 0.0, True)
                return codec.encode(_error(exc.reason), exc.fmt)
        name = request.get("command")
        command = self._by_name.get(name) if isinstance(name, str) else None
        if not isinstance(name, str):
            reply: dict[str, Any] = _error('Dictionary contains no key "command"')
        elif command is None:
            reply = _error("Unrecognized command")
        else:
            reply = await self._run(command, request, NgContext(self.runtime, peer, transport,
                                                                 request, max_reply))
        encoded = codec.encode(reply, fmt)
        if max_reply is not None and len(encoded) > max_reply:
            reply = _error(reply_too_large(len(encoded)))
            encoded = codec.encode(reply, fmt)
        if counted:
            self.runtime.stats.control.record(
                proxy, command.short if command is not None and command.counted else None,
                time.perf_counter() - started, reply.get("result") == "error")
        return encoded

    async def _run(self, command: NgCommand, request: dict[str, Any], ctx: NgContext
                   ) -> dict[str, Any]:
        try:
            model = command.model.model_validate(request)
        except pydantic.ValidationError as exc:
            return _error(_validation_reason(exc))
        missing = model.missing()
        if missing:
            return _error(missing)
        command.model.warn_unknown(request, ctx.peer[0] if ctx.peer else "unknown")
        try:
            reply = await command.handler(model, ctx) or {}
        except NgError as exc:
            return _error(exc.reason)
        except LoadLimit as exc:
            if "load limit" in (getattr(model, "supports", None) or []):
                return {"result": "load limit", "message": exc.message}
            return _error(LOAD_LIMIT_ERROR)
        except Exception:
            log.exception("ng command %s failed", command.name)
            return _error("Internal error")
        reply["result"] = reply.pop("result", command.ok_result)  # always the last key
        return reply


def reply_too_large(size: int) -> str:
    return f"Reply too large for UDP ({size} bytes); use TCP, HTTP or WebSocket"


def _error(reason: str) -> dict[str, Any]:
    return {"result": "error", "error-reason": reason}


def _validation_reason(exc: pydantic.ValidationError) -> str:
    """A clear reason for a key of the wrong type (rtpengine mostly ignores those; we say)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return f"Invalid value for key '{where}': {first['msg']}"
