"""The metric list over every worker (``list totals``, ``list jsonstats``, ``list counters``,
``list interfaces`` of the CLI): each worker sends its counters and current values, and the
worker that was asked adds them up into one set and renders the list from it, exactly as one
process renders its own.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..counters import CLOSE_REASONS, InterfaceStats, ProxyStats, Stats, Totals, Traffic
from ..engine.engine import EngineStatistics, PoolStatus
from ..statistics import Metric, gather, metric_list

if TYPE_CHECKING:
    from ..runtime import Runtime

#: The name of a worker's counters among the workers' gathered views.
GATHER_NAME = "statistics.counters"


def register(runtime: Runtime) -> None:
    workers = runtime.workers
    if workers is None:
        return

    async def part(_argument: Any) -> dict[str, Any]:
        return counters(runtime)
    workers.register(GATHER_NAME, part)


async def merged_metrics(runtime: Runtime) -> list[Metric]:
    """The metric list of every worker together (this worker's alone with one worker)."""
    if runtime.workers is None:
        return gather(runtime)
    parts = await runtime.workers.gather(GATHER_NAME)
    stats, engine, rate = merge(parts)
    return metric_list(stats, engine, runtime.ng.commands, rate)


async def merged_counters(runtime: Runtime) -> tuple[Stats, EngineStatistics]:
    """Every worker's counters and current values together (``list interfaces``)."""
    if runtime.workers is None:
        return runtime.stats, runtime.engine.statistics()
    stats, engine, _rate = merge(await runtime.workers.gather(GATHER_NAME))
    return stats, engine


def counters(runtime: Runtime) -> dict[str, Any]:
    """This worker's part, as JSON-able data."""
    stats = runtime.stats
    rate = stats.rates.read(stats.relayed) if stats.measures_media else None
    return {
        "started": stats.started,
        "measures_media": stats.measures_media,
        "rate": dataclasses.asdict(rate) if rate else None,
        "totals": dataclasses.asdict(stats.totals),
        "relayed": dataclasses.asdict(stats.relayed),
        "proxies": {proxy: dataclasses.asdict(p) for proxy, p in
                    stats.control.proxies.items()},
        "interfaces": [[name, address, dataclasses.asdict(i.ingress),
                        dataclasses.asdict(i.egress)]
                       for (name, address), i in stats.interfaces.items()],
        "engine": dataclasses.asdict(runtime.engine.statistics()),
    }


def _add(into: Traffic, data: dict[str, int]) -> None:
    into.packets += data["packets"]
    into.bytes += data["bytes"]
    into.errors += data["errors"]


def merge(parts: list[dict[str, Any]]) -> tuple[Stats, EngineStatistics, Traffic | None]:
    """One set of counters and current values: counts added up, the earliest start, each
    interface's port range widened over the workers' shares."""
    stats = Stats(started=min(p["started"] for p in parts),
                  measures_media=any(p["measures_media"] for p in parts))
    totals = Totals(closed=dict.fromkeys(CLOSE_REASONS, 0))
    rate = Traffic() if any(p["rate"] for p in parts) else None
    own = foreign = media_streams = 0
    pools: dict[tuple[str, str], PoolStatus] = {}
    for part in parts:
        for name in ("managed_sessions", "zero_way_streams", "one_way_streams",
                     "call_duration", "call_duration2"):
            setattr(totals, name, getattr(totals, name) + part["totals"][name])
        for reason, count in part["totals"]["closed"].items():
            totals.closed[reason] = totals.closed.get(reason, 0) + count
        _add(stats.relayed, part["relayed"])
        if rate is not None and part["rate"]:
            _add(rate, part["rate"])
        for proxy, counted in part["proxies"].items():
            merged = stats.control.proxies.setdefault(proxy, ProxyStats())
            for short, count in counted["counts"].items():
                merged.counts[short] = merged.counts.get(short, 0) + count
            for short, seconds in counted["seconds"].items():
                merged.seconds[short] = merged.seconds.get(short, 0.0) + seconds
            merged.errors += counted["errors"]
        for name, address, ingress, egress in part["interfaces"]:
            interface = stats.interfaces.setdefault((name, address), InterfaceStats())
            _add(interface.ingress, ingress)
            _add(interface.egress, egress)
        engine = part["engine"]
        own += engine["own"]
        foreign += engine["foreign"]
        media_streams += engine["media_streams"]
        for pool in engine["interfaces"]:
            key = (pool["name"], pool["address"])
            seen = pools.get(key)
            pools[key] = PoolStatus(**pool) if seen is None else PoolStatus(
                seen.name, seen.address, min(seen.min, pool["min"]),
                max(seen.max, pool["max"]), seen.used + pool["used"],
                seen.free + pool["free"], seen.last)
    stats.totals = totals
    return stats, EngineStatistics(own, foreign, media_streams, tuple(pools.values())), rate
