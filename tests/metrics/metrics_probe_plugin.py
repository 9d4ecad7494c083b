"""A test plugin (``--plugin=metrics_probe_plugin``) contributing collectors through the
``rtpgate_metrics_collectors`` hook: one that works, one that raises on every scrape, and one
that claims a family name rtpgate already has."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from rtpgate import hookimpl
from rtpgate.runtime import Runtime


class ProbeCollector:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.scrapes = 0

    def collect(self) -> Iterator[Metric]:
        self.scrapes += 1
        yield CounterMetricFamily("probe_scrapes_total", "Scrapes this collector answered",
                                  value=self.scrapes)


class BrokenCollector:
    def collect(self) -> Iterator[Metric]:
        raise RuntimeError("this collector always fails")


class SquattingCollector:
    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("rtpengine_uptime_seconds", "not the real one", value=-1)


@hookimpl(optionalhook=True)
def rtpgate_metrics_collectors(runtime: Runtime) -> Iterable[object]:
    return [ProbeCollector(runtime), BrokenCollector(), SquattingCollector()]
