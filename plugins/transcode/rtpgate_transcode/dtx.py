"""rtpengine's DTX buffer (``--dtx-delay``, ``--dtx-buffer``, ``--dtx-lag``, ``--dtx-shift``,
``--max-dtx``), for the transcoded packets of one direction.

As in rtpengine (``daemon/codec.c``: ``__buffer_dtx``, ``__dtx_send_later``), every packet
that is to be decoded is held back; a timer started ``dtx-delay`` ms after the first packet
then runs once per packet time of the input and each time takes the packet whose timestamp is
due (one packet time after the last one taken).  When that packet is not there (the sender is
in DTX, or it was lost), the timer has the gap filled with one packet time of audio instead
(:meth:`DtxBuffer.tick`'s ``fill``: the decoder's concealment, silence or comfort noise), so
what goes out keeps the input's timing and its timestamps stay contiguous.  Once no packet came
for ``--max-dtx`` seconds, filling stops (and the timer with it, until packets come again).

Drift between the sender's clock and the timer is handled as rtpengine handles it:

* with ``--dtx-shift`` above 0: a packet taken less than ``dtx-delay`` after it came means the
  timer runs early, so it is moved ``dtx-shift`` ms later; a packet whose timestamp is less than
  a packet time past the last moves it later too (and is dropped); when at least
  ``--dtx-buffer`` packets are held and they span ``--dtx-lag`` ms or more, the timer runs late
  and is moved ``dtx-shift`` ms earlier;
* with ``--dtx-shift=0``: the timer is never moved; a packet too close to the last one moves
  the expected timestamp back a packet time, and held packets beyond both limits are dropped.

Packets older than the last one taken are dropped; a timestamp jump (more than 100 ms back, or
forward by more than 20 times the delay and at least 200 ms) restarts the timeline there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class DtxOptions:
    """The options, in seconds (``delay``, ``lag``, ``shift``, ``max_dtx``) and packets."""

    delay: float
    buffer: int = 10
    lag: float = 0.1
    shift: float = 0.005
    max_dtx: float = 30.0


@dataclass(slots=True)
class Held(Generic[ItemT]):
    """One packet waiting: its timestamp, when it came, and what the stage needs of it.
    ``static``: an RFC 4733 event, whose timestamp stays on the event's start (taken when it
    is first in line)."""

    timestamp: int
    arrived: float
    item: ItemT
    static: bool = False


def _signed(diff: int) -> int:
    diff &= 0xFFFFFFFF
    return diff - (1 << 32) if diff >= 1 << 31 else diff


class DtxBuffer(Generic[ItemT]):
    """Holds one direction's packets and releases them on a steady timer.

    ``take(item)`` processes a held packet and returns its duration in ms (0: unknown, the
    packet time stays); ``fill(timestamp, ms)`` makes ``ms`` of audio for a gap at that input
    timestamp.  Both send what they make themselves."""

    def __init__(self, options: DtxOptions, clock: int, ptime: int,
                 take: Callable[[ItemT], int], fill: Callable[[int, int], None]) -> None:
        self.options = options
        self.clock = clock
        self.ptime = ptime
        self._take = take
        self._fill = fill
        self._packets: deque[Held[ItemT]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        #: loop time the timer fires next; 0: not running
        self._next = 0.0
        self._head: int | None = None
        #: when the last packet came (``--max-dtx`` counts from there)
        self._start = 0.0
        self._discard_old = 0
        #: counts, for tests and logs
        self.filled = 0
        self.dropped = 0

    @property
    def tspp(self) -> int:
        """RTP ticks per input packet time."""
        return self.ptime * self.clock // 1000

    @property
    def held(self) -> int:
        return len(self._packets)

    def hold(self, held: Held[ItemT], loop: asyncio.AbstractEventLoop) -> None:
        """A packet came: keep it until its turn; start the timer ``delay`` after it."""
        self._start = held.arrived
        self._packets.append(held)
        if not self._next:
            self._next = held.arrived + self.options.delay
            self._timer = loop.call_at(self._next, self.tick)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._next = 0.0
        self._packets.clear()

    def _ready(self, held: Held[ItemT], discarded_old: bool) -> bool | None:
        """Whether the first packet is due now (None: too old, drop it)."""
        if held.static or self._head is None:
            return True
        diff = _signed(held.timestamp - self._head)
        seconds = diff / self.clock
        if seconds < -0.1 or self._discard_old > 3:
            return True  # a timestamp reset
        if diff < 0 or (diff == 0 and discarded_old):
            return None
        if seconds > max(20 * self.options.delay, 0.2):
            return True  # a jump forward: reset
        return diff < 2 * self.tspp

    def tick(self) -> None:
        """One packet time: the packet that is due, or a packet time of fill."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        discarded_old = False
        while True:
            held = self._packets[0] if self._packets else None
            ready = self._ready(held, discarded_old) if held is not None else False
            if held is not None and ready is None:
                self._packets.popleft()
                self.dropped += 1
                discarded_old = True
                continue
            if held is None or not ready:
                break
            self._packets.popleft()
            if held.static:
                ts_diff = self.tspp
                self._head = (self._head if self._head is not None else held.timestamp)
                self._head = (self._head + self.tspp) & 0xFFFFFFFF
            else:
                ts_diff = _signed(held.timestamp - self._head) if self._head is not None \
                    else self.tspp
                self._head = held.timestamp
            if self._drift(held, now - held.arrived, ts_diff):
                self.dropped += 1
                continue
            self._discard_old = self._discard_old + 1 if discarded_old else 0
            ms = self._take(held.item)
            if ms > 0 and ms != self.ptime:
                self.ptime = ms
            self._schedule(loop)
            return
        self._discard_old = self._discard_old + 1 if discarded_old else 0
        if self._head is None or (0 < self.options.max_dtx <= now - self._start):
            self._next = 0.0  # nothing to fill from, or --max-dtx passed: stop
            return
        self._head = (self._head + self.tspp) & 0xFFFFFFFF
        self.filled += 1
        self._fill(self._head, self.ptime)
        self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._next:  # closed by what the packet or the fill did (its peer went)
            return
        self._next += self.ptime / 1000
        self._timer = loop.call_at(self._next, self.tick)

    def _drift(self, held: Held[ItemT], waited: float, ts_diff: int) -> bool:
        """rtpengine's drift handling (see the module); True: drop the packet."""
        opts = self.options
        if held.static and ts_diff == 0:
            return False
        if opts.shift > 0:
            if waited < opts.delay - 0.0005:  # the timer caught up with the packets
                self._next += opts.shift
                return False
            if ts_diff < self.tspp:  # timestamps caught up with the timer
                self._next += opts.shift
                return not held.static
            if self._lagging(held):
                self._next -= opts.shift
            return False
        if ts_diff < self.tspp:
            if not held.static and self._head is not None:
                self._head = (self._head - self.tspp) & 0xFFFFFFFF
            return False
        return self._lagging(held)

    def _lagging(self, held: Held[ItemT]) -> bool:
        """At least ``--dtx-buffer`` packets held, spanning ``--dtx-lag`` or more."""
        if len(self._packets) < self.options.buffer:
            return False
        span = _signed(self._packets[-1].timestamp - held.timestamp) / self.clock
        return span >= self.options.lag
