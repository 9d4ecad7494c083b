"""``redis_*`` families on ``/metrics`` (the rtpgate-metrics plugin calls this; it brings
prometheus-client, which this plugin does not need otherwise)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from rtpgate import api as c


class RedisCollector:
    def __init__(self, runtime: c.Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        store = self.runtime.engine.store
        counters = getattr(store, "counters", None)
        if counters is None:
            return
        for f in fields(counters):
            value = float(getattr(counters, f.name))
            name = f"redis_{f.name}"
            if f.name in ("pending", "connected"):
                yield GaugeMetricFamily(name, f"Redis: {f.name}", value=value)
            else:
                yield CounterMetricFamily(name, f"Redis: {f.name}", value=value)
