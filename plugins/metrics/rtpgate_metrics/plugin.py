"""Entry point of the metrics plugin: the ``/metrics`` protocol and its own collectors."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import PluginHost, Protocol, Runtime, hookimpl

from . import hookspecs
from .collectors import RtpgateCollector
from .hookspecs import Collector
from .protocol import MetricsProtocol
from .rtpengine import RtpengineCollector


@hookimpl
def rtpgate_addhooks(host: PluginHost) -> None:
    host.add_hookspecs(hookspecs)


# tryfirst: the rtpengine_* and rtpgate_* families are this plugin's, so its collectors come
# before every other plugin's, and a plugin that yields one of those names is the one left out.
@hookimpl(tryfirst=True)
def rtpgate_metrics_collectors(runtime: Runtime) -> Iterable[Collector]:
    return [RtpengineCollector(runtime), RtpgateCollector(runtime)]


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    collectors = [collector for name, collector in hookspecs.collectors(runtime)
                  if _usable(runtime, name, collector)]
    return [MetricsProtocol(collectors, runtime.workers)]


def _usable(runtime: Runtime, plugin: str, collector: Collector) -> bool:
    if callable(getattr(collector, "collect", None)):
        runtime.plugins.describe(plugin, f"metrics collector: {type(collector).__name__}")
        return True
    runtime.plugins.describe(plugin, f"metrics collector {collector!r} left out: no collect()")
    return False
