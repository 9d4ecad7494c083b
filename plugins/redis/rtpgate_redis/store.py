"""The call store: writes own calls to Redis as they change, deletes them as they end, and
restores them at startup.

Nothing here runs inside an ng command: the engine's hooks only note the call in ``pending``
(call-id -> the call, or None to delete it) and wake the writer task, which serialises and
sends whatever is pending in one pipeline after the reply has gone, gathering changes for
:data:`BATCH_WINDOW` first.  A call changed five times before the writer runs is written once, in
its latest state; a call that ends before it was ever written costs Redis nothing (no ``SET``,
no ``DEL``): the short calls of a busy node mostly never reach Redis.

When Redis fails (refused, lost, timed out, out of memory) the batch goes back into
``pending`` (unless a newer change replaced it), the error is counted and logged (once per
outage, then at debug level), and the writer waits with a doubling back-off (0.1 s up to 2 s);
after ``--redis-allowed-errors`` errors in a row (when not -1) it leaves Redis alone for
``--redis-disable-time`` seconds, as rtpengine does.  Signalling and media go on from memory.
A monitor pings Redis every second; when it answers again after an outage, or answers as a
different server (a restarted Redis: its ``run_id`` changed), every own call is written anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from redis.exceptions import RedisError
from rtpgate import api as c

from . import blob
from .connect import Batches, Command, client
from .counters import RedisCounters
from .options import RedisAddress, RedisSettings
from .rebuild import RestoreError, rebuild
from .shape import Resumer, stored_value

log = logging.getLogger("rtpgate.redis")

#: How long the writer gathers changes before it writes (seconds): what a crash may lose.
BATCH_WINDOW = 0.005
#: Longest wait between retries, and the monitor's ping interval.
MAX_BACKOFF = 2.0
PING_INTERVAL = 1.0
#: How often the SRTP rollover counters of written calls are compared with what was written
#: (a counter moves every 65,536 packets of an SSRC, with no signalling to announce it).
ROC_INTERVAL = 1.0
#: Keys per SCAN step and per MGET at restore.
SCAN_COUNT = 1000
FETCH_BATCH = 100
#: Calls serialised before the writer yields to the loop.
SERIALISE_SLICE = 50


#: (stream number, ((ssrc, roc), ...) in, ((ssrc, roc), ...) out) per stream with SRTP.
RocState = tuple[tuple[int, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]], ...]


class RedisStore:
    """One per server: see the module docstring.  Implements core's ``CallStore``."""

    def __init__(self, runtime: c.Runtime, read: RedisAddress, write: RedisAddress) -> None:
        self.runtime = runtime
        self.engine: c.Engine = runtime.engine
        self.settings = runtime.settings.view(RedisSettings)
        self.read = read
        self.write = write
        self.counters = RedisCounters()
        self.pending: dict[str, c.Call | None] = {}
        #: Call-ids of the batch being written now.
        self._inflight: set[str] = set()
        self._writer = client(write, self.settings)
        self._reader = client(read, self.settings) if read != write else self._writer
        self._batches = Batches(self._writer)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._disabled = False  #: the CLI's ``set redisdisable 1``
        self._quiet_until = 0.0  #: left alone after too many errors
        self._failures = 0  #: errors in a row
        self._down = False
        self._run_id: str | None = None
        #: Redis was unreachable at startup: its calls are restored once it answers.
        self._restore_due = False
        self._late_restore: asyncio.Task[None] | None = None
        #: Call-id -> the SRTP rollover counters last written for it (calls with SRTP only).
        self._rocs: dict[str, RocState] = {}
        #: Set by the plugin when --subscribe-keyspace is given (see :mod:`.keyspace`).
        self.keyspace: Any = None

    def _resumer(self, stream: c.Stream) -> c.MediaResume | None:
        return c.media_resume(self.engine.relay, stream)

    def _once(self) -> Resumer:
        """A resumer that asks the relay once per stream: a write serialises each stream's
        and keeps its rollover counters (:meth:`_roc_state`) from the same answer."""
        seen: dict[int, c.MediaResume | None] = {}

        def resumer(stream: c.Stream) -> c.MediaResume | None:
            key = id(stream)
            if key not in seen:
                seen[key] = self._resumer(stream)
            return seen[key]

        return resumer

    def _roc_state(self, call: c.Call, resumer: Resumer | None = None) -> RocState:
        """The rollover counters of every SRTP stage of ``call``, per stream with secured media
        (empty without)."""
        resumer = resumer or self._resumer
        state = []
        for n, stream in enumerate(call.streams()):
            resume = resumer(stream)
            if resume is not None:
                state.append((n, tuple(sorted(resume.rocs_in.items())),
                              tuple(sorted(resume.rocs_out.items()))))
        return tuple(state)

    async def _watch_rocs(self) -> None:
        """Write again the calls whose SRTP rollover counters moved since they were written."""
        while True:
            await asyncio.sleep(ROC_INTERVAL)
            for call_id, written in list(self._rocs.items()):
                call = self.engine.call(call_id)
                if call is None or call.foreign:
                    self._rocs.pop(call_id, None)
                elif call_id not in self.pending and self._roc_state(call) != written:
                    self.changed(call)

    # ------------------------------------------------------------------ engine hooks

    def changed(self, call: c.Call) -> None:
        if call.foreign or call.ended:
            return
        call.keyspace = self.write.db
        self.pending[call.call_id] = call
        self._count_pending()
        self._wake.set()

    def ended(self, call: c.Call) -> None:
        if call.foreign:
            return
        if not call.last_stored and call.call_id not in self._inflight:
            self.pending.pop(call.call_id, None)  # never written: nothing to delete
            self._count_pending()
            return
        self.pending[call.call_id] = None
        self._count_pending()
        self._wake.set()

    def rewrite_all(self) -> None:
        """Queue every own call for writing (Redis came back, or writing was re-enabled)."""
        for call in self.engine.calls():
            self.changed(call)

    # ------------------------------------------------------------------ CallStore (CLI)

    @property
    def notifying(self) -> bool:
        return self.keyspace is not None

    def keyspaces(self) -> list[int]:
        return list(self.keyspace.dbs) if self.keyspace is not None else []

    def subscribe(self, db: int) -> bool:
        return bool(self.keyspace is not None and self.keyspace.subscribe(db))

    def unsubscribe(self, db: int) -> bool:
        return bool(self.keyspace is not None and self.keyspace.unsubscribe(db))

    @property
    def writes_disabled(self) -> bool:
        return self._disabled

    def disable_writes(self, disabled: bool) -> None:
        self._disabled = disabled
        if not disabled:
            self.rewrite_all()
            self._wake.set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._write_loop(), name="redis-writer"),
                       loop.create_task(self._monitor(), name="redis-monitor"),
                       loop.create_task(self._watch_rocs(), name="redis-rocs")]
        if self.keyspace is not None:
            self._tasks.append(loop.create_task(self.keyspace.run(), name="redis-keyspace"))

    async def stop(self, flush_timeout: float = 2.0, close_timeout: float = 3.0) -> None:
        """Write what is pending (briefly: a stopping server does not wait for a dead Redis),
        then stop.  Closing is bounded too: a Redis that is slow to answer (``DEBUG SLEEP``)
        once held the server's shutdown for ever."""
        if self.pending and not self._down and not self._disabled:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._flush(), flush_timeout)
        for task in self._tasks:
            task.cancel()
        closing = asyncio.ensure_future(self._close())
        done, _ = await asyncio.wait({closing}, timeout=close_timeout)
        if not done:
            closing.cancel()
            log.warning("Redis connections not closed within %.0f s; stopping anyway",
                        close_timeout)

    async def _close(self) -> None:
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.keyspace is not None:
            await self.keyspace.close()
        for redis_client in {id(self._writer): self._writer, id(self._reader): self._reader
                             }.values():
            with contextlib.suppress(Exception):
                await redis_client.aclose()

    # ------------------------------------------------------------------ writing

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(BATCH_WINDOW)
            self._wake.clear()
            wait = self._quiet_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._disabled or not self.pending:
                self._count_pending()
                continue
            try:
                await self._flush()
            except (RedisError, OSError) as exc:
                self._failed("write", exc)
                await asyncio.sleep(self._backoff())
                self._wake.set()
            else:
                self._succeeded()
            self._count_pending()

    def _count_pending(self) -> None:
        """``redis_pending``: changes not yet written, including a batch being written (so
        that 0 means everything is in Redis, also right after a change)."""
        self.counters.pending = len(self.pending) + len(self._inflight)

    async def _flush(self) -> None:
        batch, self.pending = self.pending, {}
        self._inflight = set(batch)
        try:
            await self._send(batch)
        except BaseException:
            for call_id, call in batch.items():
                self.pending.setdefault(call_id, call)
            raise
        finally:
            self._inflight = set()

    async def _send(self, batch: dict[str, c.Call | None]) -> None:
        fmt = self.settings.redis_format
        expires = self.settings.redis_expires
        commands: list[Command] = []
        written: list[c.Call] = []
        deletes: list[str] = []
        for n, (call_id, call) in enumerate(batch.items()):
            if call is None:
                deletes.append(call_id)
                self._rocs.pop(call_id, None)
                continue
            resumer = self._once()
            data = stored_value(call, self.write.db, fmt, resumer)
            rocs = self._roc_state(call, resumer)
            if rocs:
                self._rocs[call_id] = rocs
            else:
                self._rocs.pop(call_id, None)
            commands.append(("SET", call_id, data, "EX", expires))
            written.append(call)
            if n % SERIALISE_SLICE == SERIALISE_SLICE - 1:
                await asyncio.sleep(0)
        if deletes:  # one command for all: each command costs the writer its packing and reply
            commands.append(("DEL", *deletes))
        results = await self._batches.execute(commands)
        failed = next((r for r in results if isinstance(r, Exception)), None)
        if failed is not None:
            raise failed
        now = time.time()
        for call in written:
            call.last_stored = now
        self.counters.writes += len(written)
        self.counters.deletes += len(deletes)

    def _backoff(self) -> float:
        return min(MAX_BACKOFF, 0.1 * 2 ** max(self._failures - 1, 0))

    def _failed(self, what: str, exc: BaseException) -> None:
        self.counters.errors += 1
        self._failures += 1
        self.counters.connected = False
        if not self._down:
            self._down = True
            self.counters.outages += 1
            log.error("Redis %s failed (%s: %s); calls are kept in memory and written again "
                      "when Redis answers", what, type(exc).__name__, exc)
        else:
            log.debug("Redis %s failed again: %s", what, exc)
        allowed = self.settings.redis_allowed_errors
        if allowed >= 0 and self._failures > allowed:
            pause = self.settings.redis_disable_time
            self._quiet_until = time.monotonic() + pause
            self._failures = 0
            log.warning("Redis: %d errors in a row; not using it for %d s", allowed + 1, pause)

    def _succeeded(self) -> None:
        self._failures = 0
        self.counters.connected = True
        if self._down:
            self._down = False
            self.counters.recoveries += 1
            if self._restore_due:
                self._start_late_restore()
                return
            log.warning("Redis answers again; writing %d calls anew", len(self.engine.calls()))
            self.rewrite_all()

    def _start_late_restore(self) -> None:
        """Redis answers for the first time since a start without it: restore its calls that
        are not here, then write every own call (in that order, so that nothing this node
        writes is mistaken for a call to restore)."""
        if self._late_restore is not None and not self._late_restore.done():
            return
        self._late_restore = asyncio.get_running_loop().create_task(
            self._restore_late(), name="redis-late-restore")
        self._tasks.append(self._late_restore)

    async def _restore_late(self) -> None:
        log.warning("Redis answers now (it did not at startup): restoring the calls this "
                    "node has not got")
        if await self.restore():
            self._restore_due = False
        log.warning("writing %d calls to Redis", len(self.engine.calls()))
        self.rewrite_all()

    async def _monitor(self) -> None:
        while True:
            await asyncio.sleep(PING_INTERVAL)
            if time.monotonic() < self._quiet_until:
                continue
            try:
                info = await self._writer.info("server")
            except (RedisError, OSError) as exc:
                self._failed("health check", exc)
                continue
            run_id = info.get("run_id") if isinstance(info, dict) else None
            if self._run_id is not None and run_id != self._run_id and not self._down:
                log.warning("Redis restarted (new run_id); writing every call anew")
                self.rewrite_all()
            self._run_id = run_id
            self._succeeded()

    # ------------------------------------------------------------------ restoring

    async def restore(self) -> bool:
        """Rebuild the calls of the read database (``SCAN``, never ``KEYS``), on their ports;
        calls this node has already (made while Redis was away) are left as they are.  False
        when Redis could not be read: the restore is then due again when it answers."""
        started = time.monotonic()
        try:
            keys = [key async for key in self._reader.scan_iter(count=SCAN_COUNT)]
        except (RedisError, OSError) as exc:
            self._restore_due = True
            self._failed("restore", exc)
            log.error("Redis unreachable: no calls restored (they will be when it answers)")
            return False
        self.counters.connected = True
        limit = asyncio.Semaphore(self.settings.redis_num_threads)

        async def fetch(chunk: list[bytes]) -> list[Any]:
            async with limit:
                return list(await self._reader.mget(chunk))

        chunks = [keys[i:i + FETCH_BATCH] for i in range(0, len(keys), FETCH_BATCH)]
        try:
            values = await asyncio.gather(*(fetch(chunk) for chunk in chunks))
        except (RedisError, OSError) as exc:
            self._restore_due = True
            self._failed("restore", exc)
            log.error("Redis failed during restore: no calls restored (they will be when it "
                      "answers)")
            return False
        for chunk, blobs in zip(chunks, values, strict=True):
            for key, data in zip(chunk, blobs, strict=True):
                call_id = key.decode(errors="replace")
                # with several workers, each restores the calls it owns (its shard)
                if self.engine.owns(call_id) and self.engine.call(call_id) is None:
                    self.restore_one(key, data, foreign=False, db=self.read.db)
        log.info("restored %d calls from Redis in %.3f s (%d keys could not be restored)",
                 self.counters.restored, time.monotonic() - started,
                 self.counters.restore_failures)
        if self.read != self.write:
            self.rewrite_all()
        return True

    def restore_one(self, key: bytes | str, data: bytes | None, *, foreign: bool, db: int
                    ) -> c.Call | None:
        """Rebuild one stored call into the engine; None (logged and counted) when it cannot
        be."""
        call_id = key.decode(errors="replace") if isinstance(key, bytes) else key
        if data is None:
            return None
        try:
            call = rebuild(call_id, blob.decode(data), self.engine, foreign=foreign, db=db)
        except (blob.BlobError, RestoreError) as exc:
            self.counters.restore_failures += 1
            log.warning("Failed to restore call ID '%s' from Redis: %s", call_id, exc)
            return None
        if not self.engine.restore(call):
            call.release()
            self.counters.restore_failures += 1
            log.warning("Failed to restore call ID '%s' from Redis: it exists already", call_id)
            return None
        call.last_stored = time.time()
        if foreign:
            self.counters.foreign_restored += 1
        else:
            self.counters.restored += 1
        return call
