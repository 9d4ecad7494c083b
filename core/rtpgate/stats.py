"""The one set of counters.  The engine, the relay and the ng dispatcher write here; the ng
``statistics`` command, the CLI (``list totals``, ``list jsonstats`` ...) and ``/metrics`` read
here, so nothing is counted twice and the three always agree.

Values that are a function of current state (sessions now, ports used) are not stored: readers
derive them from the engine.  Everything here is a monotonically growing total.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class ProxyStats:
    """Control requests from one proxy (source IP address)."""

    counts: dict[str, int] = field(default_factory=dict)  #: by command short name
    seconds: dict[str, float] = field(default_factory=dict)  #: time spent, by short name
    errors: int = 0


@dataclass(slots=True)
class ControlStats:
    proxies: dict[str, ProxyStats] = field(default_factory=dict)

    def record(self, proxy: str, short: str | None, seconds: float, error: bool) -> None:
        """Count one request (``short`` None: not attributable to a counted command)."""
        stats = self.proxies.get(proxy)
        if stats is None:
            stats = self.proxies[proxy] = ProxyStats()
        if short is not None:
            stats.counts[short] = stats.counts.get(short, 0) + 1
            stats.seconds[short] = stats.seconds.get(short, 0.0) + seconds
        if error:
            stats.errors += 1


@dataclass(slots=True)
class Traffic:
    """Packets, bytes and errors in one direction or one category."""

    packets: int = 0
    bytes: int = 0
    errors: int = 0


@dataclass(slots=True)
class InterfaceStats:
    """Media traffic of one local interface address."""

    ingress: Traffic = field(default_factory=Traffic)
    egress: Traffic = field(default_factory=Traffic)


#: Reasons a call ends, as rtpengine counts them (``closed_sessions_total{reason}``).
CLOSE_REASONS = ("rejected", "timeout", "silent_timeout", "final_timeout", "offer_timeout",
                 "terminated", "force_terminated")


@dataclass(slots=True)
class Totals:
    """Totals over calls that have ended (rtpengine's "does not include current sessions")."""

    managed_sessions: int = 0
    closed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOSE_REASONS, 0))
    #: Relayed in userspace (rtpgate has no kernel path), summed when a call ends.
    relayed: Traffic = field(default_factory=Traffic)
    zero_way_streams: int = 0
    one_way_streams: int = 0
    call_duration: float = 0.0
    call_duration2: float = 0.0


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    control: ControlStats = field(default_factory=ControlStats)
    totals: Totals = field(default_factory=Totals)
    #: Live relay counters (all calls, running and ended), by interface name and address.
    interfaces: dict[tuple[str, str], InterfaceStats] = field(default_factory=dict)
    #: Live relay counters over all calls since start (userspace).
    relayed: Traffic = field(default_factory=Traffic)

    def interface(self, name: str, address: str) -> InterfaceStats:
        stats = self.interfaces.get((name, address))
        if stats is None:
            stats = self.interfaces[(name, address)] = InterfaceStats()
        return stats

    def call_ended(self, reason: str, duration: float) -> None:
        """Count a call that ended for ``reason`` (one of :data:`CLOSE_REASONS`)."""
        self.totals.managed_sessions += 1
        self.totals.closed[reason] += 1
        self.totals.call_duration += duration
        self.totals.call_duration2 += duration * duration
