"""The load limit for new calls: ``max-sessions``, ``max-cpu``, ``max-load``, ``max-bandwidth``.

CPU usage (all cores, from ``/proc/stat``) and relayed bandwidth are sampled by the engine's
timer once a second; the load average is read when an offer asks.  The messages are rtpengine's
(``magic_load_limit_strings``).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import EngineSettings

SESSIONS = "Parallel session limit reached"
CPU = "CPU usage limit exceeded"
LOAD = "Load limit exceeded"
BANDWIDTH = "Bandwidth limit exceeded"
#: rtpgate's own: new calls are refused while a stop waits for running calls to end.
DRAINING = "Shutting down, no new calls"


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs, or None where /proc/stat is unreadable."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()[1:]
    except OSError:
        return None
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values)
    return total - idle, total


class LoadMonitor:
    def __init__(self) -> None:
        self.cpu_percent = 0.0
        self.bytes_per_second = 0.0
        self._cpu = _cpu_times()
        self._bytes = 0
        self._at = time.monotonic()
        #: Set by a graceful stop (:mod:`rtpgate.drain`): every new call is refused.
        self.draining = False
        #: The other workers' own calls and relayed bytes per second, with several workers:
        #: asked for just before a new call is checked (:mod:`rtpgate.workers.load`).
        self.siblings: tuple[int, float] = (0, 0.0)

    @staticmethod
    def counts_siblings(settings: EngineSettings) -> bool:
        """Whether a limit that counts every worker's calls or bandwidth is set."""
        return settings.max_sessions >= 0 or settings.max_bandwidth > 0

    def sample(self, relayed_bytes: int) -> None:
        now = time.monotonic()
        elapsed = now - self._at
        if elapsed <= 0:
            return
        cpu = _cpu_times()
        if cpu is not None and self._cpu is not None and cpu[1] > self._cpu[1]:
            self.cpu_percent = 100.0 * (cpu[0] - self._cpu[0]) / (cpu[1] - self._cpu[1])
        self._cpu = cpu
        self.bytes_per_second = max(0, relayed_bytes - self._bytes) / elapsed
        self._bytes = relayed_bytes
        self._at = now

    def refusal(self, settings: EngineSettings, own_sessions: int) -> str | None:
        """The message refusing a new call now, or None (``own_sessions``: this worker's)."""
        if self.draining:
            return DRAINING
        max_sessions = settings.max_sessions
        other_sessions, other_bandwidth = self.siblings
        if max_sessions >= 0 and own_sessions + other_sessions >= max_sessions:
            return SESSIONS
        if settings.max_cpu > 0 and self.cpu_percent > settings.max_cpu:
            return CPU
        if settings.max_load > 0 and os.getloadavg()[0] > settings.max_load:
            return LOAD
        if (settings.max_bandwidth > 0
                and self.bytes_per_second + other_bandwidth > settings.max_bandwidth):
            return BANDWIDTH
        return None
