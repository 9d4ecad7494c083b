"""Files are written off the event loop: a bounded queue drained by one writer thread.

The proc method's tap only appends a tuple per packet to a :class:`collections.deque` (no
lock, no wake-up: the thread looks every :data:`IDLE_WAIT` seconds when it found nothing); the
pcap method queues whole buffers of records (:mod:`.pcapsession`).  Packets beyond
:data:`WriterStats.limit` waiting are dropped and counted; control work (opening, metadata,
closing) is never dropped, so a recording always ends with valid files.  Whatever a job raises
(a full disk, a directory that went away) is counted and logged, at most once a minute per
reason, and the thread goes on.
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
    #: pcap records the relay's native read loop made itself (without calling the tap)
    native: int = 0


class Writer:
    """The queue and its thread."""

    def __init__(self, limit: int) -> None:
        self.stats = WriterStats(limit=limit)
        #: What waits for the thread; the proc method's tap appends packets to it directly
        #: (at most ``stats.limit`` waiting).
        self.queue: collections.deque[Job] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged: dict[str, float] = {}
        #: packets queued in buffers (counted by the loop) and written or lost (counted by the
        #: thread): each counter has one writer, so their difference is the backlog without a
        #: lock
        self.handed = 0
        self.taken = 0

    @property
    def backlog(self) -> int:
        """Packets queued in buffers and not yet written."""
        return self.handed - self.taken

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
        while True:
            try:
                job = queue.popleft()
            except IndexError:
                if self._stop.is_set() and not queue:
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
