"""Merging the workers' families (``--num-threads``): one series each, counters and amounts
added up, the uptime the highest, information gauges once, the average recomputed."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from rtpgate_metrics.workers import merge, to_data


def worker(sessions: int, ended: int, duration: float, uptime: int) -> list[Metric]:
    own = GaugeMetricFamily("rtpengine_sessions", "Sessions", labels=["type"])
    own.add_metric(["own"], sessions)
    info = GaugeMetricFamily("rtpgate_plugin_info", "Plugins", labels=["plugin"])
    info.add_metric(["ng"], 1)
    return [own,
            CounterMetricFamily("rtpengine_sessions_total", "Ended", value=ended),
            CounterMetricFamily("rtpengine_call_duration_total", "Seconds", value=duration),
            GaugeMetricFamily("rtpengine_call_duration_avg", "Average",
                              value=duration / ended if ended else 0.0),
            GaugeMetricFamily("rtpengine_uptime_seconds", "Uptime", value=uptime),
            info]


def values(families: list[Metric]) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.name, tuple(s.labels.values())): s.value for f in families for s in f.samples}


def test_every_series_once_with_the_workers_merged() -> None:
    merged = merge([to_data(worker(2, 1, 10.0, 50)), to_data(worker(3, 3, 50.0, 49))])
    assert [f.name for f in merged] == [
        "rtpengine_sessions", "rtpengine_sessions", "rtpengine_call_duration",
        "rtpengine_call_duration_avg", "rtpengine_uptime_seconds", "rtpgate_plugin_info"]
    assert [f.type for f in merged][:2] == ["gauge", "counter"]
    assert values(merged) == {
        ("rtpengine_sessions", ("own",)): 5.0,
        ("rtpengine_sessions_total", ()): 4.0,
        ("rtpengine_call_duration_total", ()): 60.0,
        ("rtpengine_call_duration_avg", ()): 15.0,  # 60 s over 4 calls, not 10 + 16.7
        ("rtpengine_uptime_seconds", ()): 50.0,
        ("rtpgate_plugin_info", ("ng",)): 1.0,
    }


def test_a_series_only_one_worker_has_is_kept() -> None:
    extra = CounterMetricFamily("rtpengine_requests", "Requests", labels=["proxy"])
    extra.add_metric(["10.0.0.1"], 7)
    merged = merge([to_data(worker(0, 0, 0.0, 1)), to_data([*worker(0, 0, 0.0, 1), extra])])
    assert values(merged)[("rtpengine_requests_total", ("10.0.0.1",))] == 7.0
    assert values(merged)[("rtpengine_call_duration_avg", ())] == 0.0
