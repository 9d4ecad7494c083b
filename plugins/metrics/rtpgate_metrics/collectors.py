"""rtpgate's own ``rtpgate_*`` families (rtpengine's are in :mod:`.rtpengine`).

Read at scrape time from what core already counts (``runtime.stats.transports``,
``runtime.stats.cookie_cache``, ``runtime.stats.access``, the plugin records).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString
from rtpgate.api import LATENCY_BUCKETS, Runtime

PLUGIN_STATUSES = ("loaded", "failed", "disabled")


class RtpgateCollector:
    """rtpgate's own ``rtpgate_*`` families: transports, the cookie cache, plugins."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        stats = self.runtime.stats
        latency = HistogramMetricFamily(
            "rtpgate_request_duration_seconds",
            "Messages the transports handed to a protocol, and the seconds until its reply, by "
            "transport (http, https, ws, wss, udp, tcp) and protocol",
            labels=["transport", "protocol"])
        for (transport, protocol), histogram in sorted(stats.transports.requests.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), histogram.buckets,
                                    strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            latency.add_metric([transport, protocol], buckets, histogram.seconds)
        yield latency
        connections = GaugeMetricFamily(
            "rtpgate_ws_connections", "WebSocket connections open now, by transport (ws, wss) "
            "and protocol", labels=["transport", "protocol"])
        for (transport, protocol), count in sorted(stats.transports.ws_open.items()):
            connections.add_metric([transport, protocol], count)
        yield connections
        yield CounterMetricFamily(
            "rtpgate_ng_cookie_cache_hits_total", "ng requests answered from the cookie cache "
            "(retransmissions, and duplicates that waited for the first reply)",
            value=stats.cookie_cache.hits)
        access = CounterMetricFamily(
            "rtpgate_access_refused_total", "Control-plane requests refused by the access "
            "policy, by listener (ng-udp, ng-tcp, cli-tcp, http, https, ws, wss) and reason "
            "(source: not in the allow list; credentials: missing or wrong)",
            labels=["listener", "reason"])
        for (kind, reason), count in sorted(stats.access.refused.items()):
            access.add_metric([kind, reason], count)
        yield access
        yield from self._plugins()

    def _plugins(self) -> Iterator[Metric]:
        records = sorted(self.runtime.plugins.records.values(), key=lambda r: r.name)
        by_status = GaugeMetricFamily(
            "rtpgate_plugins", "Plugins found, by status (failed: did not import, register or "
            "contribute; disabled: by the allow or deny list)", labels=["status"])
        for status in PLUGIN_STATUSES:
            by_status.add_metric([status], sum(r.status == status for r in records))
        yield by_status
        info = GaugeMetricFamily(
            "rtpgate_plugin_info", "One series per plugin found, with its distribution, "
            "version and status; the value is always 1",
            labels=["plugin", "distribution", "version", "status"])
        for record in records:
            info.add_metric([record.name, record.distribution, record.version, record.status], 1)
        yield info
