"""Once a second: what the node is doing, read from the engine and the one set of counters.

Nothing is counted here.  Rates are differences between two readings of the counters the relay,
the ng dispatcher and the engine keep (``runtime.stats``); the relay's packet, byte and error
rates are ``stats.rates``, the very values the ng ``statistics`` command reports.  The chart
points of the last 15 minutes are kept in a ring, sampled whether or not anyone is watching, so
a page opened now shows the quarter hour before it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtpgate.api import Runtime

#: Seconds of chart history.
HISTORY = 15 * 60
#: The signalling commands the page always shows (rates and latency), in this order.
SIGNALLING = ("offer", "answer", "delete")
#: Close reasons counted as timeouts.
TIMEOUTS = ("timeout", "silent_timeout", "final_timeout", "offer_timeout")


@dataclass(slots=True)
class _Reading:
    """The cumulative counters as of one tick."""

    at: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    timeouts: int = 0
    interfaces: dict[tuple[str, str], tuple[int, int, int, int]] = field(default_factory=dict)


class Sampler:
    """Takes one reading per :meth:`tick` and keeps the chart history."""

    def __init__(self, runtime: Runtime, history: int = HISTORY) -> None:
        self.runtime = runtime
        #: Chart points: ``[time, sessions, packets/s, signalling/s, ng errors/s,
        #: relay errors/s]``.
        self.points: deque[list[float]] = deque(maxlen=history)
        self.summary: dict[str, Any] = {}
        self._last = self._read(time.monotonic())

    def tick(self) -> dict[str, Any]:
        """Read everything; returns (and keeps as :attr:`summary`) what the page shows."""
        runtime, stats = self.runtime, self.runtime.stats
        now = time.monotonic()
        reading = self._read(now)
        last, self._last = self._last, reading
        elapsed = max(now - last.at, 1e-3)
        engine = runtime.engine
        own, foreign = engine.sessions()
        relayed = stats.rates.read(stats.relayed) if stats.measures_media else None

        signalling: list[dict[str, Any]] = []
        signalling_rate = 0.0
        shorts = [*SIGNALLING, *sorted(s for s in reading.counts if s not in SIGNALLING)]
        for short in shorts:
            count = reading.counts.get(short, 0)
            done = count - last.counts.get(short, 0)
            spent = reading.seconds.get(short, 0.0) - last.seconds.get(short, 0.0)
            rate = done / elapsed
            if short in SIGNALLING:
                signalling_rate += rate
            total_seconds = reading.seconds.get(short, 0.0)
            signalling.append({"command": short, "total": count, "rate": round(rate, 2),
                               "latency_ms": round(spent * 1000 / done, 3) if done else None,
                               "mean_ms": round(total_seconds * 1000 / count, 3)
                               if count else None})
        errors_rate = (reading.errors - last.errors) / elapsed

        interfaces = []
        for pool in engine.port_pools():
            key = (pool.name, pool.address)
            now_counts = reading.interfaces.get(key, (0, 0, 0, 0))
            then = last.interfaces.get(key, now_counts)
            per_second = [round((a - b) / elapsed) for a, b in zip(now_counts, then, strict=True)]
            interfaces.append({
                "name": pool.name, "address": pool.address,
                "ports": {"min": pool.min, "max": pool.max, "used": pool.used,
                          "free": pool.free},
                "in": {"packets": per_second[0], "bytes": per_second[1]},
                "out": {"packets": per_second[2], "bytes": per_second[3]},
            })

        at = time.time()
        packets = relayed.packets if relayed else 0
        relay_errors = relayed.errors if relayed else 0
        summary: dict[str, Any] = {
            "time": at,
            "uptime": int(time.time() - stats.started),
            "sessions": {"own": own, "foreign": foreign, "total": own + foreign},
            "relay": {"measured": relayed is not None,
                      "packets": packets, "bytes": relayed.bytes if relayed else 0,
                      "errors": relay_errors},
            "signalling": signalling,
            "errors": {"ng_total": reading.errors, "ng_rate": round(errors_rate, 2),
                       "timeouts_total": reading.timeouts,
                       "timeouts_rate": round((reading.timeouts - last.timeouts) / elapsed, 2)},
            "interfaces": interfaces,
            "clients": self._clients(),
            "plugins": [{"name": r.name, "distribution": r.distribution, "version": r.version,
                         "status": r.status, "error": r.error}
                        for r in runtime.plugins.records.values()],
        }
        point = [round(at, 3), own + foreign, packets, round(signalling_rate, 2),
                 round(errors_rate, 2), relay_errors]
        self.points.append(point)
        summary["point"] = point
        self.summary = summary
        return summary

    def _read(self, now: float) -> _Reading:
        stats = self.runtime.stats
        reading = _Reading(now)
        for proxy in stats.control.proxies.values():
            for short, count in proxy.counts.items():
                reading.counts[short] = reading.counts.get(short, 0) + count
            for short, seconds in proxy.seconds.items():
                reading.seconds[short] = reading.seconds.get(short, 0.0) + seconds
            reading.errors += proxy.errors
        closed = stats.totals.closed
        reading.timeouts = sum(closed[reason] for reason in TIMEOUTS)
        for key, traffic in stats.interfaces.items():
            reading.interfaces[key] = (traffic.ingress.packets, traffic.ingress.bytes,
                                       traffic.egress.packets, traffic.egress.bytes)
        return reading

    def _clients(self) -> list[dict[str, Any]]:
        """The control clients, as ``list totals``' control table: per source address, the
        requests by command and the errors."""
        return [{"proxy": proxy, "counts": dict(stats.counts), "errors": stats.errors}
                for proxy, stats in self.runtime.stats.control.proxies.items()]
