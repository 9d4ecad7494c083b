"""Entry point of the metrics plugin: the ``/metrics`` protocol and its own collectors."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import Protocol, Runtime, hookimpl

from .collectors import RtpengineCollector, RtpgateCollector
from .protocol import MetricsProtocol


@hookimpl
def rtpgate_metrics_collectors(runtime: Runtime) -> Iterable[object]:
    return [RtpengineCollector(runtime), RtpgateCollector(runtime)]


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    collectors = [collector for name, collector
                  in runtime.plugins.collect("rtpgate_metrics_collectors", runtime=runtime)
                  if _usable(runtime, name, collector)]
    return [MetricsProtocol(collectors)]


def _usable(runtime: Runtime, plugin: str, collector: object) -> bool:
    if callable(getattr(collector, "collect", None)):
        runtime.plugins.describe(plugin, f"metrics collector: {type(collector).__name__}")
        return True
    runtime.plugins.describe(plugin, f"metrics collector {collector!r} left out: no collect()")
    return False
