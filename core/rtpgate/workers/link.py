"""The workers' link: each worker serves a Unix socket, and asks its siblings over theirs.

A frame is a 4-byte big-endian length, then a JSON header line and the body bytes.  A request's
header has ``id`` and ``op``; the answer has the same ``id`` and ``ok`` (the body is the
answer, or the error text).  One connection per sibling carries any number of requests at once
(answers come back in any order).  Written on asyncio's streams: the frames are small and the
whole thing is a hundred lines, where a messaging library would bring its own event loop or
threads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol import Rejected

log = logging.getLogger("rtpgate.workers")

_LENGTH = struct.Struct("!I")
#: A sibling that does not answer within this long is taken as gone.
TIMEOUT = 10.0
#: Requests of one sibling started per turn of the event loop (:class:`_Turns`).
PER_TURN = 8

Handler = Callable[[dict[str, Any], bytes], Awaitable[bytes]]


class WorkerUnavailable(Exception):  # noqa: N818 - an outcome, reported to the client
    """The sibling could not be asked (restarting, or gone)."""


class Dropped(Rejected):
    """A forwarded datagram's request dropped unanswered under overload
    (:mod:`rtpgate.workers.budget`), here or by the sibling that passed it on.  Datagram
    transports send nothing for a :class:`Rejected` message, so its client retransmits as
    after a datagram a full socket buffer dropped (never raised for a stream's request)."""

    def __init__(self, why: str) -> None:
        super().__init__(503, b"overloaded\n")
        self.why = why


def _frame(header: dict[str, Any], body: bytes) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode() + b"\n"
    return _LENGTH.pack(len(head) + len(body)) + head + body


async def _read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    data = await reader.readexactly(size)
    head, _, body = data.partition(b"\n")
    header: dict[str, Any] = json.loads(head)
    return header, body


class _Turns:
    """The requests one sibling sent, started :data:`PER_TURN` per turn of the event loop,
    one from each lane in turn.  Between two turns the loop reads this worker's own sockets,
    so its own clients wait behind at most so many of the sibling's requests however many it
    sent (its budget bounds those, :mod:`rtpgate.workers.budget`); and a lane is what the
    sender marked as one source (``lane`` in the header: the listener a forwarded request
    arrived on), so a flood on one socket does not hold up the requests of another."""

    def __init__(self, start: Callable[[dict[str, Any], bytes], None]) -> None:
        self._start = start
        self._lanes: dict[str | None, collections.deque[tuple[dict[str, Any], bytes]]] = {}
        self._loop = asyncio.get_running_loop()
        self._scheduled = False

    def add(self, header: dict[str, Any], body: bytes) -> None:
        lane = header.get("lane")
        self._lanes.setdefault(lane if isinstance(lane, str) else None,
                               collections.deque()).append((header, body))
        if not self._scheduled:  # this turn's share starts now
            self._scheduled = True
            self._turn()

    def _turn(self) -> None:
        lanes = self._lanes
        if not lanes:
            self._scheduled = False
            return
        for _ in range(PER_TURN):
            if not lanes:
                break
            lane = next(iter(lanes))
            queue = lanes.pop(lane)
            header, body = queue.popleft()
            if queue:
                lanes[lane] = queue  # to the back: the next lane has its turn
            self._start(header, body)
        self._loop.call_soon(self._turn)


class _Peer:
    """The connection to one sibling, opened when first needed and again after it broke."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[tuple[dict[str, Any], bytes]]] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        #: The task reading answers on the current connection (kept: the loop holds tasks
        #: only weakly, and :meth:`close` waits for it).
        self._reader: asyncio.Task[None] | None = None

    async def _connect(self) -> asyncio.StreamWriter:
        async with self._lock:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, writer = await asyncio.open_unix_connection(self.path)
                except OSError as exc:
                    raise WorkerUnavailable(f"{self.path}: {exc.strerror or exc}") from None
                self._writer = writer
                self._reader = asyncio.get_running_loop().create_task(self._read(reader, writer))
            return self._writer

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header, body = await _read_frame(reader)
                future = self._pending.pop(int(header["id"]), None)
                if future is not None and not future.done():
                    future.set_result((header, body))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            if self._writer is writer:
                self._writer = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(WorkerUnavailable(f"{self.path}: connection lost"))
            self._pending.clear()

    async def ask(self, header: dict[str, Any], body: bytes) -> bytes:
        writer = await self._connect()
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            writer.write(_frame({**header, "id": request_id}, body))
            answer, data = await asyncio.wait_for(future, TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise WorkerUnavailable(f"{self.path}: {exc}") from None
        finally:
            self._pending.pop(request_id, None)
        if answer.get("dropped"):
            raise Dropped(data.decode(errors="replace"))
        if not answer.get("ok"):
            raise WorkerUnavailable(data.decode(errors="replace"))
        return data

    async def close(self) -> None:
        """Close the connection and wait for its reader to see the end."""
        if self._writer is not None:
            self._writer.close()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=TIMEOUT)


class Link:
    """This worker's socket and its connections to the siblings' sockets."""

    def __init__(self, index: int, paths: list[str], handler: Handler) -> None:
        self.index = index
        self.count = len(paths)
        self.path = paths[index]
        self._handler = handler
        self._peers = {i: _Peer(path) for i, path in enumerate(paths) if i != index}
        self._server: asyncio.AbstractServer | None = None
        #: The siblings' connections to this worker's socket and the tasks serving them.
        self._served: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by the worker this one replaces
        self._server = await asyncio.start_unix_server(self._serve, self.path)

    async def stop(self) -> None:
        """Stop listening, close every connection either way and wait until each one's task
        has ended: a serving task still waiting when the loop ends would be cancelled by it,
        which Python 3.11's streams log as an error with a traceback."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._served.values():
            writer.close()
        if self._served:
            await asyncio.wait(list(self._served), timeout=TIMEOUT)
        await asyncio.gather(*(peer.close() for peer in self._peers.values()))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def ask(self, index: int, header: dict[str, Any], body: bytes = b"") -> bytes:
        """Sibling ``index``'s answer to one request; :class:`WorkerUnavailable` if none."""
        return await self._peers[index].ask(header, body)

    async def ask_all(self, header: dict[str, Any], body: bytes = b""
                      ) -> list[bytes | WorkerUnavailable]:
        """Every sibling's answer (or why there is none), in worker order."""
        async def one(index: int) -> bytes | WorkerUnavailable:
            try:
                return await self.ask(index, header, body)
            except WorkerUnavailable as exc:
                log.warning("worker %d did not answer: %s", index, exc)
                return exc
        return list(await asyncio.gather(*(one(i) for i in sorted(self._peers))))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks: set[asyncio.Task[None]] = set()
        current = asyncio.current_task()
        assert current is not None
        self._served[current] = writer
        loop = asyncio.get_running_loop()

        def start(header: dict[str, Any], body: bytes) -> None:
            if writer.is_closing():
                return  # the sibling is gone: nobody waits for the answer
            task = loop.create_task(self._answer(writer, header, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        turns = _Turns(start)
        try:
            while True:
                header, body = await _read_frame(reader)
                turns.add(header, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._served.pop(current, None)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, header: dict[str, Any],
                      body: bytes) -> None:
        outcome: dict[str, Any] = {"id": header.get("id"), "ok": True}
        try:
            answer = await self._handler(header, body)
        except Dropped as exc:  # passed on and dropped there: the asking worker drops it too
            answer, outcome["ok"], outcome["dropped"] = exc.why.encode(), False, True
        except Exception as exc:  # the asking worker reports it; this one keeps serving
            log.exception("worker link request %s failed", header.get("op"))
            answer, outcome["ok"] = f"{type(exc).__name__}: {exc}".encode(), False
        if not writer.is_closing():
            writer.write(_frame(outcome, answer))
