"""rtpengine's ``rtpengine_*`` families, and the relay's WebRTC counters as ``rtpgate_*``.

Built at scrape time from what core counts (``runtime.stats``, ``runtime.engine.statistics()``,
the ng command table, the DTLS and ICE counters), the values ng ``statistics`` and the CLI's
``list totals`` read too, so ``/metrics`` never disagrees with them.  Core keeps no Prometheus
names: they are this plugin's.

* A value rtpgate cannot measure never gets a series: no kernel path (``*_kernel``,
  ``mediastreams{type="kernel"|"mixed"}``), no transcoding, no MOS.  The relay's counters get
  series only once a relay measures them (``stats.measures_media``).
* Each family is contiguous (rtpengine interleaves ``packets_total`` with other families and
  repeats per-proxy and per-interface families, which the exposition format forbids) and has
  one HELP text that describes all its series.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from rtpgate.api import (
    DTLS_STATS,
    ICE_STATS,
    EngineStatistics,
    Runtime,
    Stats,
    control_columns,
)

#: ng ``statistics``'s closed-session keys' reasons, in rtpengine's order.
CLOSED = ("rejected", "timeout", "silent_timeout", "final_timeout", "offer_timeout",
          "terminated", "force_terminated")
USERSPACE = "by path (rtpgate relays in userspace only)"


class Families:
    """Families by name in the order of their first sample."""

    def __init__(self) -> None:
        self.by_name: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, name: str, kind: Literal["gauge", "counter"], help_: str, value: float,
            /, **labels: str) -> None:
        family = self.by_name.get(name)
        if family is None:
            cls = GaugeMetricFamily if kind == "gauge" else CounterMetricFamily
            family = self.by_name[name] = cls(name, help_, labels=list(labels))
        family.add_metric(list(labels.values()), value)


class RtpengineCollector:
    """``rtpengine_*`` (rtpengine's names) and ``rtpgate_dtls_*``/``rtpgate_ice_*``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        runtime = self.runtime
        stats, engine = runtime.stats, runtime.engine.statistics()
        out = Families()
        _current(out, stats, engine)
        _totals(out, stats)
        _control(out, runtime)
        _interfaces(out, stats, engine)
        _webrtc(out)
        yield from out.by_name.values()


def _rtpengine(out: Families, name: str, kind: Literal["gauge", "counter"], help_: str,
               value: float, /, **labels: str) -> None:
    out.add(f"rtpengine_{name}", kind, help_, value, **labels)


def _current(out: Families, stats: Stats, engine: EngineStatistics) -> None:
    sessions = "Current sessions by ownership: own (this instance) or foreign (another's)"
    _rtpengine(out, "sessions", "gauge", sessions, engine.own, type="own")
    _rtpengine(out, "sessions", "gauge", sessions, engine.foreign, type="foreign")
    if stats.measures_media:
        _rtpengine(out, "mediastreams", "gauge", f"Media streams relayed, {USERSPACE}",
                   engine.media_streams, type="userspace")


def _totals(out: Families, stats: Stats) -> None:
    totals, media = stats.totals, stats.measures_media
    _rtpengine(out, "uptime_seconds", "gauge", "Seconds since the server started",
               int(time.time() - stats.started))
    _rtpengine(out, "sessions_total", "counter", "Sessions that have ended",
               totals.managed_sessions)
    for reason in CLOSED:
        _rtpengine(out, "closed_sessions_total", "counter",
                   "Sessions that have ended, by reason", totals.closed[reason], reason=reason)
    if media:
        relayed = stats.relayed
        for name, help_, value in (("packets_total", "Relayed packets", relayed.packets),
                                   ("packet_errors_total", "Relayed packet errors",
                                    relayed.errors),
                                   ("bytes_total", "Relayed bytes", relayed.bytes)):
            _rtpengine(out, name, "counter", f"{help_}, {USERSPACE}", value, type="userspace")
        _rtpengine(out, "zero_packet_streams_total", "counter",
                   "Ended streams that relayed no packet", totals.zero_way_streams)
        _rtpengine(out, "one_way_sessions_total", "counter",
                   "Ended streams that relayed packets in one direction only",
                   totals.one_way_streams)
    count = totals.managed_sessions
    _rtpengine(out, "call_duration_avg", "gauge",
               "Average duration of the ended sessions (seconds)",
               totals.call_duration / count if count else 0.0)
    _rtpengine(out, "call_duration_total", "counter",
               "Summed duration of the ended sessions (seconds)", totals.call_duration)
    _rtpengine(out, "call_duration2_total", "counter",
               "Summed squared duration of the ended sessions (seconds squared)",
               totals.call_duration2)


def _control(out: Families, runtime: Runtime) -> None:
    """Per proxy, the registered commands' requests and time, and the errors."""
    columns = [(short, command) for short, command in control_columns(runtime.ng.commands)
               if command is not None]
    for proxy, stats in runtime.stats.control.proxies.items():
        for short, command in columns:
            _rtpengine(out, "requests_total", "counter", "ng requests, by proxy and command",
                       stats.counts.get(short, 0), proxy=proxy, request=command.name)
            _rtpengine(out, "request_seconds_total", "counter", "Time spent on ng requests "
                       "(seconds), by proxy and command", stats.seconds.get(short, 0.0),
                       proxy=proxy, request=command.name)
        _rtpengine(out, "errors_total", "counter", "ng requests answered with an error, by "
                   "proxy", stats.errors, proxy=proxy)


def _interfaces(out: Families, stats: Stats, engine: EngineStatistics) -> None:
    for pool in engine.interfaces:
        labels = {"name": pool.name, "address": pool.address}
        _rtpengine(out, "ports_used", "gauge", "Media ports in use, by interface", pool.used,
                   **labels)
        _rtpengine(out, "ports_free", "gauge", "Media ports free, by interface", pool.free,
                   **labels)
        _rtpengine(out, "ports", "gauge", "Media ports configured, by interface",
                   pool.max - pool.min + 1, **labels)
        if not stats.measures_media:
            continue
        traffic = stats.interface(pool.name, pool.address)
        for direction, counters in (("ingress", traffic.ingress), ("egress", traffic.egress)):
            for field in ("packets", "bytes", "errors"):
                _rtpengine(out, f"interface_{field}", "gauge", f"Media {field} relayed on an "
                           "interface, by direction (a running total)",
                           getattr(counters, field), **labels, direction=direction)


def _webrtc(out: Families) -> None:
    """The relay's DTLS and ICE counters (rtpengine has none): ``rtpgate_*``."""
    dtls, ice = DTLS_STATS, ICE_STATS
    for name, help_, value in (
            ("dtls_handshakes_total", "DTLS-SRTP handshakes completed with a verified "
             "fingerprint", dtls.handshakes),
            ("dtls_fingerprint_mismatches_total", "DTLS handshakes failed: the peer's "
             "certificate did not match its a=fingerprint", dtls.fingerprint_mismatches),
            ("dtls_timeouts_total", "DTLS handshakes given up unfinished", dtls.timeouts),
            ("dtls_bad_datagrams_total", "DTLS datagrams ignored (malformed, refused by "
             "OpenSSL, or from a source ICE had not checked)", dtls.bad_datagrams),
            ("ice_checks_sent_total", "ICE connectivity checks sent", ice.checks_sent),
            ("ice_completed_total", "ICE agents that selected a candidate pair", ice.completed),
            ("ice_consent_lost_total", "Selected pairs whose consent expired (RFC 7675)",
             ice.consent_lost),
            ("ice_stun_rejected_total", "STUN requests refused (bad credentials or "
             "MESSAGE-INTEGRITY, malformed)", ice.rejected),
            ("ice_stun_flood_dropped_total", "STUN requests dropped over the per-agent rate "
             "limit", ice.flood_dropped)):
        out.add(f"rtpgate_{name}", "counter", help_, value)
