"""How much one worker forwards to a sibling at once: a budget per sibling and per listener.

A worker runs what its siblings forward next to what its own sockets bring.  Unbounded, a flood
landing on one worker for calls another owns filled the owner's event loop with the flood's
requests (as many as the flooded socket kept in flight), and the owner's own clients waited
behind them.  One process under that flood only holds what the flooded socket's buffer holds
and drops the rest, as rtpengine does; so here each worker keeps at most :data:`LIMIT`
requests in flight per sibling and per listener they arrived on (its transport and local
address: a flood on one socket does not take the places of another socket's requests).
Beyond that, a request that came as a datagram is dropped unanswered, as a full socket buffer
drops it, and its client retransmits (SIP proxies do); one that came over a stream (TCP, HTTP,
WebSocket) waits for a place: its transport handles a connection's requests one after the
other, so the connection is not read meanwhile and TCP's flow control holds the client back;
nothing it sent is lost (rtpengine never drops a stream's request either).  The sibling starts
a few of what it is sent per turn of its loop, one listener's after another's
(:class:`rtpgate.workers.link._Turns`), so its own sockets are read between them and a quiet
socket's request does not wait behind a flooded one's.
"""

from __future__ import annotations

import asyncio
import logging

from ..loglimit import LogLimiter
from .link import Dropped

log = logging.getLogger("rtpgate.workers")

#: Requests in flight per sibling and per listener: room for a burst read from a socket at
#: once, far below the hundreds a flooded datagram socket keeps in flight.
LIMIT = 32
#: One warning per sibling and listener a minute, with the number dropped so far.
_NOISY = LogLimiter(interval=60.0)

Address = tuple[str, int]


class ForwardBudget:
    """This worker's places at its siblings, one :class:`asyncio.Semaphore` per sibling,
    transport and listener address (a bounded set: the listeners and their local
    addresses)."""

    def __init__(self, index: int, limit: int = LIMIT) -> None:
        self.index = index
        self.limit = limit
        #: Requests dropped so far because their listener's places were taken.
        self.dropped = 0
        self._places: dict[tuple[int, str, Address | None], asyncio.Semaphore] = {}

    def places(self, target: int, transport: str, listener: Address | None,
               droppable: bool) -> asyncio.Semaphore:
        """The places to take one of (``async with``) before forwarding to ``target``; a
        ``droppable`` request (a datagram's) finding none free raises :class:`Dropped`
        instead of waiting."""
        key = (target, transport, listener)
        places = self._places.get(key)
        if places is None:
            places = self._places[key] = asyncio.Semaphore(self.limit)
        if droppable and places.locked():
            self.dropped += 1
            _NOISY.log(log, logging.WARNING, key,
                       "worker %d: %s request from %s dropped: %d already in flight to worker "
                       "%d from there (%d dropped so far)", self.index, transport,
                       f"{listener[0]}:{listener[1]}" if listener else "?", self.limit, target,
                       self.dropped)
            raise Dropped(f"{self.limit} requests from {transport} {listener} in flight to "
                          f"worker {target}")
        return places
