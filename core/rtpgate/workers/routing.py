"""A worker's side of the sharding: ng requests routed to the owner of their call-id, commands
that span calls gathered from every worker, and the link requests siblings send here.

A request whose ``call-id`` another worker owns goes to that worker as it came (payload, peer,
transport, reply limit), and that worker's reply comes back.  The reply cache is kept by key,
as in one process: a keyed request (the ng cookie) goes first to the worker its key hashes to,
which answers it from the dispatcher's ``reply_cache`` or runs it (passing it on to the
call-id's owner when that is another worker) and caches the reply, so a retransmission, even
one with another body, is answered from there wherever it lands.  A command registered with a
``gather`` function runs on every worker once and the replies are merged.  Plugins gather
their own views with :meth:`Workers.gather` (named local functions every worker registers).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..engine.requests import ng_text
from ..ngcommands import codec
from ..ngcommands.dispatch import reply_too_large
from .budget import Address, ForwardBudget
from .link import Link, WorkerUnavailable
from .shard import WorkerSpec, owner

if TYPE_CHECKING:
    from ..ngcommands.dispatch import NgDispatcher

log = logging.getLogger("rtpgate.workers")

#: What a worker's own part of a gathered view is: JSON-able data.
GatherFunction = Callable[[Any], Awaitable[Any]]


def _call_id(request: dict[str, Any]) -> Any:
    """The call-id under any spelling rtpengine accepts (``call ID``, ``call_id``, ...)."""
    for key, value in request.items():
        if key.lower().replace(" ", "-").replace("_", "-") == "call-id":
            return value
    return None


class Workers:
    """This worker among its siblings (``runtime.workers``; ``None`` with one worker)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.index = spec.index
        self.count = spec.count
        self.dispatcher: NgDispatcher | None = None
        self.forwarded = 0  # requests sent to their owner
        self.received = 0   # requests run here for a sibling
        self._gatherers: dict[str, GatherFunction] = {}
        #: At most so many requests in flight to each sibling per listener (a flood landing
        #: here must not crowd out a sibling's own clients).
        self.budget = ForwardBudget(spec.index)
        self.link = Link(spec.index, [spec.socket_path(i) for i in range(spec.count)],
                         self._answer)

    def owns(self, call_id: str) -> bool:
        return owner(call_id, self.count) == self.index

    async def start(self) -> None:
        await self.link.start()

    async def stop(self) -> None:
        await self.link.stop()

    # ------------------------------------------------------------------ ng

    async def process(self, dispatcher: NgDispatcher, payload: bytes,
                      peer: tuple[str, int] | None, transport: str, max_reply: int | None,
                      key: bytes | None, listener: Address | None = None,
                      droppable: bool = False) -> bytes:
        """Run ``payload`` where it belongs and return the encoded reply.  A keyed request (one
        with an ng cookie) goes first to the worker its key hashes to, which keeps that key's
        cached reply: a retransmission, even with another body (as one process answers it),
        meets the first reply there wherever it lands.  There, or for a request without a key,
        it runs with its call-id's owner; without a call-id, where it is.  ``listener`` is the
        local address it arrived on; a ``droppable`` one (a datagram's) raises
        :class:`~rtpgate.workers.link.Dropped` when its listener's places at the sibling it
        must go to are all taken (:mod:`rtpgate.workers.budget`)."""
        return await self._route(dispatcher, payload, peer, transport, max_reply, key,
                                 None, listener, droppable)

    async def _route(self, dispatcher: NgDispatcher, payload: bytes,
                     peer: tuple[str, int] | None, transport: str, max_reply: int | None,
                     key: bytes | None, sender: int | None, listener: Address | None,
                     droppable: bool) -> bytes:
        """:meth:`process` for a request that landed here (``sender`` ``None``) or that
        worker ``sender`` sent here: then this worker is its key's worker (keyed) or its
        call-id's owner (unkeyed)."""
        home = owner(key.decode("latin-1"), self.count) if key is not None else self.index
        if key is not None and dispatcher.reply_cache is not None and home != self.index:
            return await self._to_home(dispatcher, payload, peer, transport, max_reply, key,
                                       home, listener, droppable)
        decoded = self._decode(dispatcher, payload)
        call_id = self._call_id(decoded)
        runner = owner(call_id, self.count) if call_id else None
        what = (decoded[0].get("command") if decoded else None, call_id)

        async def execute() -> bytes:
            """Run the request with its call-id's owner (here without one)."""
            target = self.index if runner is None else runner
            if target == self.index:
                return await self._run_here(dispatcher, payload, peer, transport, max_reply,
                                            decoded)
            if sender is None or key is None:
                self._log_forward(what, target, "forwarded")
            else:  # the key's worker passes it on; the owner runs it without a key
                self._log_forward(what, target, f"(from worker {sender}) passed")
            return await self._forward(target, payload, peer, transport, max_reply, None,
                                       listener, droppable)

        try:
            cache = dispatcher.reply_cache
            if key is None or cache is None:
                return await execute()
            return await cache.run(key, execute)
        except WorkerUnavailable as exc:  # not cached: a retransmission tries again
            return self._unavailable(exc, decoded)

    async def _to_home(self, dispatcher: NgDispatcher, payload: bytes,
                       peer: tuple[str, int] | None, transport: str, max_reply: int | None,
                       key: bytes, home: int, listener: Address | None,
                       droppable: bool) -> bytes:
        """A keyed request whose key another worker keeps: that worker answers it from its
        cache, runs it or passes it on to the owner, and decodes it to know which, so this one
        does not (under a flood landing on one worker, that decode was its busiest work)."""
        if log.isEnabledFor(logging.DEBUG):
            decoded = self._decode(dispatcher, payload)
            call_id = self._call_id(decoded)
            runner = owner(call_id, self.count) if call_id else None
            self._log_forward((decoded[0].get("command") if decoded else None, call_id), home,
                              "forwarded" if home == runner else "sent for its cookie")
        try:
            return await self._forward(home, payload, peer, transport, max_reply, key,
                                       listener, droppable)
        except WorkerUnavailable as exc:  # not cached: a retransmission tries again
            return self._unavailable(exc, self._decode(dispatcher, payload))

    @staticmethod
    def _decode(dispatcher: NgDispatcher, payload: bytes
                ) -> tuple[dict[str, Any], codec.Format] | None:
        try:
            return codec.decode(payload, dispatcher.max_items())
        except codec.DecodeError:
            return None

    @staticmethod
    def _call_id(decoded: tuple[dict[str, Any], codec.Format] | None) -> str | None:
        """The call-id read as the engine reads it (a number is its digits)."""
        if decoded is None:
            return None
        return ng_text(decoded[0].get("call-id") or _call_id(decoded[0]))

    @staticmethod
    def _unavailable(exc: WorkerUnavailable,
                     decoded: tuple[dict[str, Any], codec.Format] | None) -> bytes:
        log.warning("a worker is unavailable: %s", exc)
        return codec.encode({"result": "error", "error-reason": "Call's worker unavailable"},
                            decoded[1] if decoded else "bencode")

    def _log_forward(self, what: tuple[Any, Any], target: int, how: str) -> None:
        command, call_id = what
        log.debug("worker %d: %s for call-id %s %s to worker %d", self.index, command,
                  call_id, how, target)

    async def _forward(self, target: int, payload: bytes, peer: tuple[str, int] | None,
                       transport: str, max_reply: int | None, key: bytes | None,
                       listener: Address | None, droppable: bool) -> bytes:
        """Worker ``target``'s reply to ``payload`` (:class:`WorkerUnavailable` if none), once
        one of its listener's places there is free (:class:`~.link.Dropped` when none is for a
        ``droppable`` request, here or where ``target`` passes it on)."""
        places = self.budget.places(target, transport, listener, droppable)
        header = {"op": "ng", "sender": self.index, "peer": list(peer) if peer else None,
                  "transport": transport, "max_reply": max_reply,
                  "key": key.decode("latin-1") if key is not None else None,
                  "listener": list(listener) if listener else None, "droppable": droppable,
                  "lane": f"{transport} {listener}"}  # the sibling takes turns between lanes
        async with places:
            self.forwarded += 1
            return await self.link.ask(target, header, payload)

    async def _run_here(self, dispatcher: NgDispatcher, payload: bytes,
                        peer: tuple[str, int] | None, transport: str, max_reply: int | None,
                        decoded: tuple[dict[str, Any], codec.Format] | None) -> bytes:
        """Run on this worker; a command spanning calls gathers from every worker."""
        command = None
        if decoded is not None:
            name = decoded[0].get("command")
            command = dispatcher.command(name) if isinstance(name, str) else None
        if command is not None and command.gather is not None and decoded is not None:
            return await self._gather_ng(dispatcher, command.gather, payload, decoded[0],
                                         decoded[1], peer, transport, max_reply)
        return await dispatcher.run_local(payload, peer, transport, max_reply, decoded)

    async def _gather_ng(self, dispatcher: NgDispatcher,
                         merge: Callable[[list[dict[str, Any]], dict[str, Any]],
                                         dict[str, Any]],
                         payload: bytes, request: dict[str, Any], fmt: codec.Format,
                         peer: tuple[str, int] | None, transport: str,
                         max_reply: int | None) -> bytes:
        """A command spanning calls: run here (counted) and on every sibling (not counted),
        then merged by the command's ``gather``."""
        header = {"op": "local", "peer": list(peer) if peer else None, "transport": transport}
        mine = await dispatcher.run_local(payload, peer, transport, None, (request, fmt))
        replies = [codec.decode(mine)[0]]
        for answer in await self.link.ask_all(header, payload):
            if isinstance(answer, bytes):
                replies.append(codec.decode(answer)[0])
        errors = [r for r in replies if r.get("result") == "error"]
        if errors:  # this worker's own, else a sibling's (parts are for merging only)
            return mine if errors[0] is replies[0] else codec.encode(errors[0], fmt)
        merged = merge(replies, request)
        merged["result"] = merged.pop("result", replies[0].get("result", "ok"))  # last
        encoded = codec.encode(merged, fmt)
        if max_reply is not None and len(encoded) > max_reply:
            return codec.encode({"result": "error",
                                 "error-reason": reply_too_large(len(encoded))}, fmt)
        return encoded

    # ------------------------------------------------------------------ gathered views

    def register(self, name: str, function: GatherFunction) -> None:
        """``function(argument)`` is this worker's part of the view ``name``."""
        self._gatherers[name] = function

    async def gather(self, name: str, argument: Any = None) -> list[Any]:
        """Every worker's part of ``name`` (this worker's first); a sibling that does not answer
        is left out (logged)."""
        parts = [await self._gatherers[name](argument)]
        body = json.dumps(argument).encode()
        for answer in await self.link.ask_all({"op": "gather", "name": name}, body):
            if isinstance(answer, bytes):
                parts.append(json.loads(answer))
        return parts

    async def ask(self, index: int, name: str, argument: Any = None) -> Any:
        """Worker ``index``'s part of ``name`` (this worker's own when ``index`` is this
        one); :class:`~rtpgate.workers.link.WorkerUnavailable` when it does not answer."""
        if index == self.index:
            return await self._gatherers[name](argument)
        answer = await self.link.ask(index, {"op": "gather", "name": name},
                                     json.dumps(argument).encode())
        return json.loads(answer)

    def owner(self, call_id: str) -> int:
        return owner(call_id, self.count)

    # ------------------------------------------------------------------ link requests

    async def _answer(self, header: dict[str, Any], body: bytes) -> bytes:
        op = header.get("op")
        if op == "gather":
            return json.dumps(await self._gatherers[str(header["name"])](json.loads(body))
                              ).encode()
        dispatcher = self.dispatcher
        if dispatcher is None:
            raise WorkerUnavailable("no ng dispatcher yet")
        peer = _address(header.get("peer"))
        transport = str(header.get("transport", "ng"))
        if op == "local":
            return await dispatcher.run_local(body, peer, transport, None, counted=False)
        if op == "ng":
            self.received += 1
            log.debug("worker %d: a request forwarded by a sibling runs here", self.index)
            key = header.get("key")
            return await self._route(dispatcher, body, peer, transport, header.get("max_reply"),
                                     key.encode("latin-1") if key else None,
                                     int(header.get("sender", -1)),
                                     _address(header.get("listener")),
                                     bool(header.get("droppable")))
        raise ValueError(f"unknown worker link request {op!r}")


def _address(value: Any) -> Address | None:
    """A ``(host, port)`` sent over the link as a JSON list."""
    return (str(value[0]), int(value[1])) if value else None
