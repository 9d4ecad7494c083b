"""``GET /metrics``: every collector's families in the format the scraper asked for.

The format follows the request's ``Accept`` header (prometheus-client's ``choose_encoder``):
OpenMetrics for a scraper that lists ``application/openmetrics-text`` (Prometheus does), the
text format 0.0.4 otherwise (curl, rtpengine's own clients).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import Metric
from prometheus_client.exposition import choose_encoder
from rtpgate.api import HttpRoute, Message, Protocol, Reply, Workers

from .hookspecs import Collector
from .workers import FamilyData, merge, to_data

#: The name of this worker's part of a scrape, among the workers' gathered views.
GATHER_NAME = "metrics.families"

log = logging.getLogger("rtpgate.metrics")


class _Families:
    """What prometheus-client's encoders render: an object whose ``collect()`` yields
    families."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


class MetricsProtocol(Protocol):
    name = "metrics"
    http_routes = (HttpRoute("GET", "/metrics"),)

    def __init__(self, collectors: Sequence[Collector], workers: Workers | None = None) -> None:
        self.collectors = collectors
        #: With several workers (``--num-threads``): each worker's families are gathered.
        self.workers = workers
        if workers is not None:
            workers.register(GATHER_NAME, self._own_part)

    async def _own_part(self, openmetrics: Any) -> list[FamilyData]:
        return to_data(self.families(bool(openmetrics)))

    async def handle(self, message: Message) -> Reply:
        encoder, content_type = choose_encoder(message.accept or "")
        openmetrics = content_type.startswith("application/openmetrics-text")
        if self.workers is None:
            families = self.families(openmetrics)
        else:
            families = merge(await self.workers.gather(GATHER_NAME, openmetrics))
        body = encoder(_Families(families))
        return Reply(body, content_type)

    def families(self, openmetrics: bool) -> list[Metric]:
        """Every collector's families; a collector that raises is skipped (logged), and so is
        a family whose name is taken."""
        families: list[Metric] = []
        for collector in self.collectors:
            try:
                families += list(collector.collect())
            except Exception:
                log.exception("metrics collector %r failed; left out of this scrape", collector)
        if openmetrics:
            families = _resolve_clashes(families)
        return _unique(families, openmetrics)


def _exposed_name(family: Metric, openmetrics: bool) -> str:
    """The name a family's ``# TYPE`` line shows: the text format adds ``_total`` to a
    counter's name, OpenMetrics does not."""
    if family.type == "counter" and not openmetrics:
        return f"{family.name}_total"
    return family.name


def _resolve_clashes(families: Iterable[Metric]) -> list[Metric]:
    """In OpenMetrics a counter's family name drops ``_total``, so rtpengine's counter
    ``rtpengine_sessions_total`` would take the name of its gauge ``rtpengine_sessions``.
    Such a counter is exposed as type ``unknown`` under its full sample name: the samples
    keep their names, the output stays valid."""
    families = list(families)
    names = {f.name for f in families if f.type != "counter"}
    resolved = []
    for family in families:
        if family.type == "counter" and family.name in names:
            unknown = Metric(f"{family.name}_total", family.documentation, "unknown")
            unknown.samples = [s for s in family.samples if s.name.endswith("_total")]
            family = unknown
        resolved.append(family)
    return resolved


def _unique(families: Iterable[Metric], openmetrics: bool) -> list[Metric]:
    seen: set[str] = set()
    kept = []
    for family in families:
        name = _exposed_name(family, openmetrics)
        if name in seen:
            log.error("metrics family %s contributed twice; the later one is left out", name)
            continue
        seen.add(name)
        kept.append(family)
    return kept
