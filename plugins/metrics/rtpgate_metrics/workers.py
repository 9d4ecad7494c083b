"""``/metrics`` with several workers (``--num-threads``): every worker's families, merged.

Each worker renders its own families (its calls, the requests it ran, its relay) as plain data;
the worker that got the scrape merges them into one series per name and label set: counters,
histograms and gauges of amounts (sessions, ports, connections) are added up, the uptime is the
highest, information gauges (``*_info``, ``rtpgate_plugins``: the same on every worker) are
taken once, and the average call duration is recomputed from the merged totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import Metric

#: A family as data: name, help, type, unit, samples (name, labels, value).
FamilyData = list[Any]

#: Gauges that are the same on every worker: taken from the first.
_ONCE = ("rtpgate_plugins", "rtpgate_plugin_info")
AVERAGE = "rtpengine_call_duration_avg"


def to_data(families: Iterable[Metric]) -> list[FamilyData]:
    return [[f.name, f.documentation, f.type, f.unit,
             [[s.name, dict(s.labels), s.value] for s in f.samples]] for f in families]


def _combine(family: str, kind: str, values: list[float]) -> float:
    if family in _ONCE or family.endswith("_info"):
        return values[0]
    if family.endswith("uptime_seconds"):
        return max(values)
    return sum(values)


def merge(parts: list[list[FamilyData]]) -> list[Metric]:
    """One family per name and type (rtpengine has a gauge ``rtpengine_sessions`` beside the
    counter ``rtpengine_sessions_total``, whose family name is the same), one sample per name
    and label set, in first-seen order."""
    order: dict[tuple[str, str], FamilyData] = {}
    samples: dict[tuple[str, str], dict[tuple[str, tuple[tuple[str, str], ...]],
                                        list[float]]] = {}
    for part in parts:
        for name, documentation, kind, unit, rows in part:
            order.setdefault((name, kind), [name, documentation, kind, unit])
            family = samples.setdefault((name, kind), {})
            for sample_name, labels, value in rows:
                key = (sample_name, tuple(sorted(labels.items())))
                family.setdefault(key, []).append(float(value))
    merged: list[Metric] = []
    for identity, (name, documentation, kind, unit) in order.items():
        metric = Metric(name, documentation, kind, unit)
        for (sample_name, labels), values in samples[identity].items():
            metric.add_sample(sample_name, dict(labels), _combine(name, kind, values))
        merged.append(metric)
    _recompute_average(merged)
    return merged


def _value(families: list[Metric], sample_name: str) -> float | None:
    for family in families:
        for sample in family.samples:
            if sample.name == sample_name and not sample.labels:
                return float(sample.value)
    return None


def _recompute_average(families: list[Metric]) -> None:
    count = _value(families, "rtpengine_sessions_total")
    duration = _value(families, "rtpengine_call_duration_total")
    for family in families:
        if family.name == AVERAGE and count is not None and duration is not None:
            family.samples = [s._replace(value=duration / count if count else 0.0)
                              for s in family.samples]
