"""The hook the metrics plugin owns (added with ``rtpgate_addhooks``), and its typed caller.

Implement it in another plugin with ``@hookimpl(optionalhook=True)``, so that plugin loads
whether or not rtpgate-metrics is installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from prometheus_client.core import Metric
from rtpgate.api import Runtime, hookspec


class Collector(Protocol):
    """prometheus-client's custom-collector interface."""

    def collect(self) -> Iterable[Metric]: ...


@hookspec
def rtpgate_metrics_collectors(runtime: Runtime) -> Iterable[Collector]:
    """Contribute Prometheus collectors to ``GET /metrics``.

    Return objects with a ``collect()`` method that yields ``prometheus_client.core.Metric``
    families (prometheus-client's custom-collector interface, :class:`Collector`).  Called once,
    when the metrics protocol is built; ``collect()`` is then called on every scrape, on the
    event loop, so it must be quick and must not block.  Read your values where they live
    (``runtime.stats`` or your own state) at collect time; do not keep a second count of
    something that is already counted.  Name your families ``<plugin>_...`` (the names
    ``rtpengine_*`` and ``rtpgate_*`` belong to the metrics plugin).  A collector that raises is
    left out of that scrape (and logged); a family whose name is already taken is left out.
    """


def collectors(runtime: Runtime) -> list[tuple[str, Collector]]:
    """Every plugin's collectors, as ``(plugin name, collector)`` in hook order."""
    return runtime.plugins.collect("rtpgate_metrics_collectors", runtime=runtime)
