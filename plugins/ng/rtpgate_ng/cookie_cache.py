"""rtpengine's ng cookie cache: a retransmitted request gets the earlier reply, byte for byte.

Keyed by the cookie alone (not the body, the source or the transport), so one instance is shared
by every cookie-carrying transport.  Two generations swap every ``lifetime`` seconds, so an entry
lives between ``lifetime`` and twice that (rtpengine: 30-60 s).  A duplicate that arrives while
the first request is still running waits for its reply.  Memory is bounded: ``max_entries`` and
``max_bytes`` bound both generations together (a generation that reaches half of either is
swapped out early, so a flood of unique cookies shortens how long replies are kept instead of
growing the cache); bytes count the cookie, the reply and :data:`ENTRY_OVERHEAD`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from rtpgate.api import CookieCacheStats

#: What one entry costs besides its cookie and reply: two bytes objects and a dict slot.
ENTRY_OVERHEAD = 160


class CookieCache:
    def __init__(self, lifetime: float = 30.0, max_entries: int = 100_000,
                 max_bytes: int = 64 * 1024 * 1024,
                 clock: Callable[[], float] = time.monotonic,
                 stats: CookieCacheStats | None = None) -> None:
        self.lifetime = lifetime
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._current: dict[bytes, bytes] = {}
        self._old: dict[bytes, bytes] = {}
        self._current_bytes = 0
        self._swapped = clock()
        #: Cookies being computed, with the future duplicates wait on (made by the first one).
        self._in_flight: dict[bytes, asyncio.Future[bytes] | None] = {}
        #: Where hits are counted: ``runtime.stats.cookie_cache`` in a server (``/metrics``).
        self.stats = stats or CookieCacheStats()

    @property
    def hits(self) -> int:
        return self.stats.hits

    def _swap_if_due(self) -> None:
        elapsed = self._clock() - self._swapped
        if (elapsed >= self.lifetime or 2 * len(self._current) >= self.max_entries
                or 2 * self._current_bytes >= self.max_bytes):
            # after two lifetimes without a swap even the current generation is too old
            self._old = self._current if elapsed < 2 * self.lifetime else {}
            self._current = {}
            self._current_bytes = 0
            self._swapped = self._clock()

    def lookup(self, cookie: bytes) -> bytes | None:
        self._swap_if_due()
        reply = self._current.get(cookie)
        if reply is None:
            reply = self._old.get(cookie)
        return reply

    async def run(self, cookie: bytes, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached reply for ``cookie``, or ``compute()``'s, which is then cached."""
        cached = self.lookup(cookie)
        if cached is not None:
            self.stats.hits += 1
            return cached
        in_flight = self._in_flight
        if cookie in in_flight:
            self.stats.hits += 1
            pending = in_flight[cookie]
            if pending is None:  # the first duplicate: now something waits for the reply
                pending = in_flight[cookie] = asyncio.get_running_loop().create_future()
            return await asyncio.shield(pending)
        # no future until a duplicate arrives: most requests have none, and a future per
        # request was one of the ng path's allocations
        in_flight[cookie] = None
        try:
            reply = await compute()
        except BaseException as exc:
            waiting = in_flight.pop(cookie)
            if waiting is not None:
                waiting.set_exception(exc)
                waiting.exception()  # retrieved: waiting duplicates get it, nobody else must
            raise
        waiting = in_flight.pop(cookie)
        self._current[cookie] = reply
        self._current_bytes += len(cookie) + len(reply) + ENTRY_OVERHEAD
        if waiting is not None:
            waiting.set_result(reply)
        return reply

    def __len__(self) -> int:
        return len(self._current) + len(self._old)
