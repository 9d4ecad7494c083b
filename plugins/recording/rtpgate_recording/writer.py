"""Files are written off the event loop: a bounded queue drained by one writer thread.

The relay's tap only appends a tuple to a :class:`collections.deque` (no lock, no wake-up: the
thread looks every :data:`IDLE_WAIT` seconds when it found nothing), so a recorded packet costs
the loop well under a microsecond.  Buffered output is flushed every :data:`FLUSH_EVERY`
seconds (and when a buffer fills), not at every idle moment: with many calls, a write per call
per wake-up cost more than the packets themselves.  Packets beyond :data:`WriterStats.limit`
waiting are dropped and counted; control work (opening, metadata, closing) is never dropped, so
a recording always ends with valid files.  Whatever a job raises (a full disk, a directory that
went away) is counted and logged, at most once a minute per reason, and the thread goes on.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("rtpgate.recording")

#: How long the thread sleeps when the queue is empty.
IDLE_WAIT = 0.02
#: How often the idle work (flushing buffered packets) runs.
FLUSH_EVERY = 0.5
#: A reason is logged at most once per this many seconds.
LOG_EVERY = 60.0

#: A callable and its arguments, in one tuple (the tap builds one per packet).
Job = tuple[Any, ...]


@dataclass(slots=True)
class WriterStats:
    """What the writer did; ``dropped`` and ``errors`` are what a full disk or a slow daemon
    cost."""

    limit: int = 10000  #: packets that may wait
    queued: int = 0  #: packets accepted into the queue
    dropped: int = 0  #: packets refused because the queue was full
    written: int = 0  #: packets written (pcap records, or packets handed to the daemon)
    errors: int = 0  #: packets lost to write errors, and failed control jobs
    forwarded: int = 0  #: packets sent to the forwarding target
    forward_errors: int = 0  #: packets the forwarding target's socket refused


class Writer:
    """The queue and its thread."""

    def __init__(self, limit: int) -> None:
        self.stats = WriterStats(limit=limit)
        #: What waits for the thread; the tap appends to it directly (:meth:`packet` is the
        #: same, as a method).
        self.queue: collections.deque[Job] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged: dict[str, float] = {}
        #: called when the queue ran empty, at most every FLUSH_EVERY seconds
        self.idle: list[Callable[[], None]] = []

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rtpgate-recording",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def packet(self, job: Callable[..., None], *args: Any) -> None:
        """Queue a packet's work (the relay's tap, on the event loop): dropped and counted
        when the queue is full."""
        queue = self.queue
        stats = self.stats
        if len(queue) >= stats.limit:
            stats.dropped += 1
            return
        stats.queued += 1
        queue.append((job, *args))

    def control(self, job: Callable[..., None], *args: Any) -> None:
        """Queue work that must not be dropped (open, metadata, close), in order with the
        packets."""
        self.queue.append((job, *args))

    def failed(self, reason: str, exc: BaseException | str) -> None:
        """Log a failure, once per :data:`LOG_EVERY` per reason."""
        now = time.monotonic()
        if now - self._logged.get(reason, -LOG_EVERY) >= LOG_EVERY:
            self._logged[reason] = now
            log.error("recording: %s: %s (counted: %d dropped, %d errors so far)", reason, exc,
                      self.stats.dropped, self.stats.errors)

    def _run(self) -> None:
        queue = self.queue
        flushed = time.monotonic()
        while True:
            try:
                job = queue.popleft()
            except IndexError:
                stopping = self._stop.is_set()
                now = time.monotonic()
                if stopping or now - flushed >= FLUSH_EVERY:
                    flushed = now
                    for idle in list(self.idle):
                        self._call((idle,))
                if stopping and not queue:
                    return
                time.sleep(IDLE_WAIT)
                continue
            self._call(job)

    def _call(self, job: Job) -> None:
        try:
            job[0](*job[1:])
        except Exception as exc:  # a job's failure must not end the thread
            self.stats.errors += 1
            self.failed(getattr(job[0], "__qualname__", "job"), exc)
