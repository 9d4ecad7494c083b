"""Foreign calls from keyspace notifications (``--subscribe-keyspace``), and taking them over.

One pub/sub connection ``PSUBSCRIBE``s ``__keyspace@<db>__:*`` for each followed database (the
Redis server must have ``notify-keyspace-events`` set to include ``K`` and ``g$x``, as for
rtpengine).  At start, and again whenever the subscription is re-established after Redis went
away, each database's calls are read (``SCAN``) and kept as *foreign* calls, and foreign calls
no longer there (deleted while the subscription was down) are dropped.  A ``set`` of a key
rebuilds that foreign call (the old one is dropped first); ``del`` and ``expired`` drop it.
Notifications about own calls are ignored, as rtpengine does.

A foreign call is not relayed.  Its ports are bound when they can be (on the same host the owner
still holds them: they are retried every half second); with ``--active-switchover`` the first
packet arriving on one of them, or signalling for the call, takes it over (the packet itself is
then relayed).  The
CLI's ``active`` takes every call over; :meth:`Keyspaces.on_own` binds what is still missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from rtpgate import api as c

from .connect import client
from .options import RedisAddress
from .rebuild import bind_missing, unbound

if TYPE_CHECKING:
    from .store import RedisStore

log = logging.getLogger("rtpgate.redis")

PREFIX = "__keyspace@"
BIND_RETRY = 0.5
MAX_BACKOFF = 2.0


def parse_channel(channel: str) -> tuple[int, str] | None:
    """``__keyspace@<db>__:<key>`` -> (db, key)."""
    if not channel.startswith(PREFIX):
        return None
    db_text, sep, key = channel[len(PREFIX):].partition("__:")
    if not sep or not db_text.isdigit():
        return None
    return int(db_text), key


class Keyspaces:
    def __init__(self, store: RedisStore, address: RedisAddress, dbs: list[int]) -> None:
        self.store = store
        self.engine = store.engine
        self.address = address
        self.dbs: list[int] = list(dict.fromkeys(dbs))
        self.switchover = bool(store.settings.active_switchover)
        self._pubsub: Any = None
        self._clients: dict[int, Any] = {}
        #: Foreign calls' sockets watched for --active-switchover, with their removers.
        self._watched: dict[str, list[tuple[c.MediaSocket, Any]]] = {}
        #: Call-ids of the calls adopted as foreign and not yet taken over or dropped.
        self.adopted: set[str] = set()

    # ------------------------------------------------------------------ CLI

    def subscribe(self, db: int) -> bool:
        if db in self.dbs:
            return False
        self.dbs.append(db)
        if self._pubsub is not None:
            asyncio.get_running_loop().create_task(self._add(db))
        return True

    def unsubscribe(self, db: int) -> bool:
        if db not in self.dbs:
            return False
        self.dbs.remove(db)
        if self._pubsub is not None:
            asyncio.get_running_loop().create_task(self._pubsub.punsubscribe(self._pattern(db)))
        for call in self.engine.calls():
            if call.foreign and call.keyspace == db:
                self.drop(call)
        return True

    # ------------------------------------------------------------------ running

    @staticmethod
    def _pattern(db: int) -> str:
        return f"{PREFIX}{db}__:*"

    def _client(self, db: int) -> Any:
        found = self._clients.get(db)
        if found is None:
            found = self._clients[db] = client(self.address, self.store.settings, db=db)
        return found

    async def run(self) -> None:
        binder = asyncio.get_running_loop().create_task(self._bind_loop())
        failures = 0
        try:
            while True:
                try:
                    await self._listen()
                except (RedisError, OSError) as exc:
                    failures += 1
                    self.store._failed("keyspace subscription", exc)
                    await asyncio.sleep(min(MAX_BACKOFF, 0.1 * 2 ** (failures - 1)))
                else:
                    failures = 0
        finally:
            binder.cancel()

    async def _listen(self) -> None:
        main = self._client(self.address.db)
        pubsub = main.pubsub(ignore_subscribe_messages=True)
        try:
            if self.dbs:
                await pubsub.psubscribe(*(self._pattern(db) for db in self.dbs))
            self._pubsub = pubsub
            for db in list(self.dbs):
                await self._load(db)
            while True:
                if not self.dbs:
                    await asyncio.sleep(0.2)
                    if not self.dbs:
                        continue
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "pmessage":
                    await self._notified(message)
        finally:
            self._pubsub = None
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _add(self, db: int) -> None:
        try:
            await self._pubsub.psubscribe(self._pattern(db))
            await self._load(db)
        except (RedisError, OSError, AttributeError) as exc:
            self.store._failed("keyspace subscription", exc)

    async def _load(self, db: int) -> None:
        """Reconcile with ``db`` (after subscribing, so that nothing changes unseen): every
        call in it becomes a foreign call (those not here yet), and the foreign calls of ``db``
        that are no longer in it are dropped (deleted or expired while the subscription was
        down: their notifications were lost)."""
        redis_client = self._client(db)
        keys = [key async for key in redis_client.scan_iter(count=1000)]
        present = {key.decode(errors="replace") for key in keys}
        gone = [call for call in self.engine.calls() if call.foreign and call.keyspace == db
                and call.call_id not in present]
        for call in gone:
            self.drop(call)
        if gone:
            log.warning("Redis keyspace %d: %d foreign calls deleted while the subscription "
                        "was down dropped", db, len(gone))
        for start in range(0, len(keys), 100):
            chunk = keys[start:start + 100]
            for key, data in zip(chunk, await redis_client.mget(chunk), strict=True):
                call_id = key.decode(errors="replace")
                if self.engine.call(call_id) is None:
                    self._adopt(call_id, data, db)

    async def _notified(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        event = message.get("data")
        channel = channel.decode(errors="replace") if isinstance(channel, bytes) else channel
        event = event.decode(errors="replace") if isinstance(event, bytes) else event
        parsed = parse_channel(str(channel))
        if parsed is None:
            return
        db, call_id = parsed
        if db not in self.dbs:
            return
        existing = self.engine.call(call_id)
        if existing is not None and not existing.foreign:
            log.warning("Redis-Notifier: Ignoring %s received for OWN call: %s", event, call_id)
            return
        if event == "set":
            data = await self._client(db).get(call_id)
            existing = self.engine.call(call_id)  # may have changed while waiting
            if existing is not None:
                if not existing.foreign:
                    return
                self.drop(existing)
            self._adopt(call_id, data, db)
        elif event in ("del", "expired") and existing is not None:
            self.drop(existing)

    # ------------------------------------------------------------------ foreign calls

    def _adopt(self, call_id: str, data: bytes | None, db: int) -> None:
        call = self.store.restore_one(call_id, data, foreign=True, db=db)
        if call is None:
            return
        self.adopted.add(call_id)
        if self.switchover:
            self._watch(call)

    def drop(self, call: c.Call) -> None:
        self._unwatch(call)
        self.adopted.discard(call.call_id)
        self.engine.forget(call)

    def _watch(self, call: c.Call) -> None:
        """With --active-switchover: the first packet on a bound port takes the call over."""
        loop = asyncio.get_running_loop()
        watched = self._watched.setdefault(call.call_id, [])
        known = {id(media_socket) for media_socket, _ in watched}
        for media in call.medias():
            for em in media.endpoint_maps:
                for run in em.sets:
                    for media_socket in run:
                        sock = media_socket.sock
                        if sock is None or id(media_socket) in known:
                            continue
                        fd = sock.fileno()
                        loop.add_reader(fd, self._packet, call)
                        remover = _remover(loop, fd)
                        media_socket.unwatch = remover
                        watched.append((media_socket, remover))

    def _unwatch(self, call: c.Call) -> None:
        """Stop watching (before the relay watches the same sockets)."""
        for media_socket, remover in self._watched.pop(call.call_id, []):
            mine = media_socket.unwatch is remover
            if mine:
                media_socket.unwatch = None
            if mine and media_socket.sock is not None:
                remover()

    def _packet(self, call: c.Call) -> None:
        self._unwatch(call)
        if call.foreign and not call.ended:
            log.info("media for foreign call %s: taking it over (--active-switchover)",
                     call.call_id)
            self.engine.take_over(call)

    async def _bind_loop(self) -> None:
        """Bind the ports of foreign calls that their owner still held."""
        while True:
            await asyncio.sleep(BIND_RETRY)
            for call in self.engine.calls():
                if call.foreign and unbound(call):
                    bind_missing(call, self.engine)
                    if self.switchover:
                        self._watch(call)

    def on_own(self, call: c.Call) -> None:
        """A call was announced.  An adopted one being taken over: stop watching it and bind
        what is missing (the engine starts relaying it next).  A foreign one that signalling
        changed here: with ``--active-switchover`` that takes it over, as in rtpengine."""
        if call.foreign:
            if self.switchover and call.call_id in self.adopted and not call.ended:
                log.info("signalling for foreign call %s: taking it over "
                         "(--active-switchover)", call.call_id)
                self.engine.take_over(call)
            return
        if call.call_id not in self.adopted:
            return
        self.adopted.discard(call.call_id)
        self.store.counters.takeovers += 1
        self._unwatch(call)
        if unbound(call) and not bind_missing(call, self.engine):
            log.warning("call %s taken over with ports still held elsewhere: %s",
                        call.call_id, [s.port for s in unbound(call)])

    async def close(self) -> None:
        for redis_client in self._clients.values():
            with contextlib.suppress(Exception):
                await redis_client.aclose()


def _remover(loop: asyncio.AbstractEventLoop, fd: int) -> Any:
    def remove() -> None:
        loop.remove_reader(fd)

    return remove
