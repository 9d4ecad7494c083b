"""The one set of counters.  The engine, the relay and the ng dispatcher write here; the ng
``statistics`` command, the CLI (``list totals``, ``list jsonstats`` ...) and ``/metrics`` read
here, so nothing is counted twice and the three always agree.

Values that are a function of current state (sessions now, ports used) are not stored: readers
derive them from the engine.  Everything here is a monotonically growing total.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class ProxyStats:
    """Control requests from one proxy (source IP address)."""

    counts: dict[str, int] = field(default_factory=dict)  #: by command short name
    seconds: dict[str, float] = field(default_factory=dict)  #: time spent, by short name
    errors: int = 0


#: Proxies counted one by one; requests from further source addresses are counted together
#: under :data:`OTHER_PROXIES`, so a flood from many (spoofed) sources costs bounded memory.
MAX_PROXIES = 1024
OTHER_PROXIES = "other"


@dataclass(slots=True)
class ControlStats:
    proxies: dict[str, ProxyStats] = field(default_factory=dict)

    def record(self, proxy: str, short: str | None, seconds: float, error: bool) -> None:
        """Count one request (``short`` None: not attributable to a counted command)."""
        stats = self.proxies.get(proxy)
        if stats is None:
            if len(self.proxies) >= MAX_PROXIES:
                proxy = OTHER_PROXIES
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
    zero_way_streams: int = 0
    one_way_streams: int = 0
    call_duration: float = 0.0
    call_duration2: float = 0.0


#: Upper bounds (seconds) of the request-latency histogram buckets; ``+Inf`` follows them.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class Latency:
    """Messages handled and the time each took, as a histogram over :data:`LATENCY_BUCKETS`."""

    #: Per bucket, not cumulative; the last one counts what took longer than every bound.
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    seconds: float = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.seconds += seconds

    @property
    def count(self) -> int:
        return sum(self.buckets)


@dataclass(slots=True)
class TransportStats:
    """What the transports delivered to protocols, keyed by ``(transport, protocol name)``;
    the transport is :attr:`rtpgate.protocol.Message.transport` (``http``, ``https``, ``ws``,
    ``wss``, ``udp``, ``tcp``)."""

    requests: dict[tuple[str, str], Latency] = field(default_factory=dict)
    #: WebSocket connections open now.
    ws_open: dict[tuple[str, str], int] = field(default_factory=dict)

    def observe(self, transport: str, protocol: str, seconds: float) -> None:
        """Count one message handed to ``protocol`` and answered after ``seconds``."""
        latency = self.requests.get((transport, protocol))
        if latency is None:
            latency = self.requests[(transport, protocol)] = Latency()
        latency.observe(seconds)

    def ws_opened(self, transport: str, protocol: str, delta: int = 1) -> None:
        """A WebSocket connection opened (``delta`` -1: closed)."""
        key = (transport, protocol)
        self.ws_open[key] = self.ws_open.get(key, 0) + delta


@dataclass(slots=True)
class CookieCacheStats:
    """The ng cookie cache shared by the cookie-carrying transports."""

    #: Requests answered from the cache (a retransmission, or a duplicate that waited).
    hits: int = 0


@dataclass(slots=True)
class Rates:
    """Relayed traffic per second (rtpengine's ``packetrate``, ``byterate``, ``errorrate``).

    Computed when read rather than by a timer: the average per second of what
    :attr:`Stats.relayed` grew by since the previous reading at least a second old.  Read every
    second it is rtpengine's "last second"; read less often it is the average since then.
    """

    per_second: Traffic = field(default_factory=Traffic)
    _base: Traffic = field(default_factory=Traffic)
    _at: float = field(default_factory=time.monotonic)

    def read(self, relayed: Traffic, now: float | None = None) -> Traffic:
        now = time.monotonic() if now is None else now
        elapsed = now - self._at
        if elapsed >= 1.0:
            base = self._base
            self.per_second = Traffic(int((relayed.packets - base.packets) / elapsed),
                                      int((relayed.bytes - base.bytes) / elapsed),
                                      int((relayed.errors - base.errors) / elapsed))
            self._base = Traffic(relayed.packets, relayed.bytes, relayed.errors)
            self._at = now
        return self.per_second


@dataclass(slots=True)
class AccessStats:
    """Refusals by listener kind (``ng-udp``, ``cli-tcp``, ``http``, ``wss``...) and reason
    (``source``, ``credentials``)."""

    refused: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, kind: str, reason: str) -> None:
        self.refused[(kind, reason)] = self.refused.get((kind, reason), 0) + 1


@dataclass
class Stats:
    started: float = field(default_factory=time.time)
    control: ControlStats = field(default_factory=ControlStats)
    totals: Totals = field(default_factory=Totals)
    #: Live relay counters (all calls, running and ended), by interface name and address.
    interfaces: dict[tuple[str, str], InterfaceStats] = field(default_factory=dict)
    #: Live relay counters over all calls since start (userspace).
    relayed: Traffic = field(default_factory=Traffic)
    #: Set by the media relay when it starts.  Until then the relay's counters above stay at
    #: zero because nothing measures them, and readers leave them out of ``/metrics`` rather
    #: than report a constant zero (see :mod:`rtpgate.statistics`).
    measures_media: bool = False
    rates: Rates = field(default_factory=Rates)
    transports: TransportStats = field(default_factory=TransportStats)
    cookie_cache: CookieCacheStats = field(default_factory=CookieCacheStats)
    #: Control-plane refusals (see :mod:`rtpgate.access`).
    access: AccessStats = field(default_factory=AccessStats)

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
