"""The metrics plugin on its own: the protocol called directly over a booted runtime whose
counters the test sets, and once over a real HTTP server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import rtpgate_metrics.plugin
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from prometheus_client.parser import text_string_to_metric_families as text_families
from rtpgate.api import LATENCY_BUCKETS, Message, Reply, Runtime
from rtpgate.testing import ServerProcess, make_runtime
from rtpgate_metrics.collectors import RtpgateCollector
from rtpgate_metrics.protocol import MetricsProtocol
from rtpgate_metrics.rtpengine import RtpengineCollector

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def fake_engine(own: int = 2, foreign: int = 1) -> SimpleNamespace:
    """What :func:`rtpgate.statistics.engine_facts` reads from ``runtime.engine``."""
    pool = SimpleNamespace(name="default", address="127.0.0.1", min=30000, max=30099,
                           used=8, free=92, last=30010)
    stats = SimpleNamespace(own=own, foreign=foreign, media_streams=4, interfaces=[pool])
    return SimpleNamespace(statistics=lambda: stats)


@pytest.fixture
def runtime() -> Runtime:
    runtime = make_runtime(rtpgate_metrics.plugin)
    control = runtime.stats.control
    for proxy in ("10.0.0.1", "10.0.0.2"):
        control.record(proxy, "ping", 0.001, False)
        control.record(proxy, None, 0.0, True)
    return runtime


def render(protocol: MetricsProtocol, accept: str | None = None) -> Reply:
    return asyncio.run(protocol.handle(Message(b"", "http", method="GET", path="/metrics",
                                               accept=accept)))


def own_protocol(runtime: Runtime, *extra: Any) -> MetricsProtocol:
    return MetricsProtocol([RtpengineCollector(runtime), RtpgateCollector(runtime), *extra])


def promtool(text: str) -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: apt-get install prometheus"
    run = subprocess.run([binary, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60)
    return (run.stdout + run.stderr).strip() if run.returncode else ""


def type_lines(text: str) -> list[str]:
    return [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]


def test_text_format_is_valid_and_each_family_contiguous(runtime: Runtime) -> None:
    runtime.engine = fake_engine()  # type: ignore[attr-defined]
    reply = render(own_protocol(runtime))
    assert reply.content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = reply.body.decode()
    names = type_lines(text)
    assert len(names) == len(set(names))
    assert promtool(text) == ""
    families = {f.name: f for f in text_families(text)}
    requests = families["rtpengine_requests"]
    assert {(s.labels["proxy"], s.labels["request"], s.value) for s in requests.samples} >= {
        ("10.0.0.1", "ping", 1.0), ("10.0.0.2", "ping", 1.0)}
    errors = {s.labels["proxy"]: s.value for s in families["rtpengine_errors"].samples}
    assert errors == {"10.0.0.1": 1.0, "10.0.0.2": 1.0}
    [gauge] = [f for f in text_families(text) if f.name == "rtpengine_sessions"
               and f.type == "gauge"]  # the parser files the counter _total under the same name
    sessions = {s.labels["type"]: s.value for s in gauge.samples}
    assert sessions == {"own": 2.0, "foreign": 1.0}
    ports = {f: families[f"rtpengine_{f}"].samples[0].value for f in ("ports", "ports_used",
                                                                        "ports_free")}
    assert ports == {"ports": 100.0, "ports_used": 8.0, "ports_free": 92.0}


def test_openmetrics_keeps_the_counter_that_clashes_with_a_gauge(runtime: Runtime) -> None:
    """``rtpengine_sessions`` (gauge) and ``rtpengine_sessions_total`` (counter) are one name in
    OpenMetrics; the counter becomes ``unknown`` under its full sample name."""
    runtime.engine = fake_engine()  # type: ignore[attr-defined]
    reply = render(own_protocol(runtime), accept=OPENMETRICS)
    assert reply.content_type is not None
    assert reply.content_type.startswith("application/openmetrics-text; version=1.0.0")
    text = reply.body.decode()
    assert text.endswith("# EOF\n")
    assert "# TYPE rtpengine_sessions_total unknown\nrtpengine_sessions_total 0.0\n" in text
    families = {f.name: f for f in om_families(text)}  # raises on invalid OpenMetrics
    assert families["rtpengine_sessions"].type == "gauge"
    assert families["rtpengine_sessions_total"].type == "unknown"
    assert families["rtpengine_closed_sessions"].type == "counter"


def test_relay_families_only_once_a_relay_measures(runtime: Runtime) -> None:
    runtime.engine = fake_engine()  # type: ignore[attr-defined]
    runtime.stats.measures_media = False  # as a server whose engine has no relay
    relay_families = {"rtpengine_packets_total", "rtpengine_bytes_total",
                      "rtpengine_packet_errors_total", "rtpengine_mediastreams",
                      "rtpengine_zero_packet_streams_total", "rtpengine_one_way_sessions_total",
                      "rtpengine_interface_packets", "rtpengine_interface_bytes",
                      "rtpengine_interface_errors"}
    protocol = own_protocol(runtime)
    assert not relay_families & set(type_lines(render(protocol).body.decode()))
    stats = runtime.stats
    stats.measures_media = True
    stats.relayed.packets, stats.relayed.bytes = 10, 1720
    stats.interface("default", "127.0.0.1").ingress.packets = 6
    text = render(protocol).body.decode()
    assert relay_families <= set(type_lines(text))
    assert 'rtpengine_packets_total{type="userspace"} 10.0' in text
    assert ('rtpengine_interface_packets{address="127.0.0.1",direction="ingress",'
            'name="default"} 6.0') in text
    assert 'type="kernel"' not in text
    assert promtool(text) == ""


def test_latency_histogram_is_cumulative(runtime: Runtime) -> None:
    transports = runtime.stats.transports
    for seconds in (0.00005, 0.0003, 0.0003, 0.2, 10.0):
        transports.observe("ws", "ng", seconds)
    [family] = [f for f in RtpgateCollector(runtime).collect()
                if f.name == "rtpgate_request_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    assert buckets["0.0001"] == 1 and buckets["0.0005"] == 3 and buckets["0.25"] == 4
    assert buckets["5.0"] == 4 and buckets["+Inf"] == 5
    count = next(s.value for s in family.samples if s.name.endswith("_count"))
    total = next(s.value for s in family.samples if s.name.endswith("_sum"))
    assert count == 5 and total == pytest.approx(10.20065)


class Raising:
    def collect(self) -> Iterator[Metric]:
        raise RuntimeError("broken collector")


class Duplicate:
    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("rtpengine_uptime_seconds", "impostor", value=-1)
        yield CounterMetricFamily("extra_things", "a family of a plugin", value=3)


def test_a_broken_or_clashing_collector_spoils_nothing(runtime: Runtime,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    text = render(own_protocol(runtime, Raising(), Duplicate())).body.decode()
    assert "impostor" not in text and "extra_things_total 3.0" in text
    assert promtool(text) == ""
    assert "broken collector" in caplog.text
    assert "rtpengine_uptime_seconds contributed twice" in caplog.text


def test_collectors_come_from_the_hook(runtime: Runtime) -> None:
    import rtpgate_metrics.plugin as plugin

    [protocol] = plugin.rtpgate_protocols(runtime)
    assert isinstance(protocol, MetricsProtocol)
    kinds = [type(c) for c in protocol.collectors]
    assert kinds[:2] == [RtpengineCollector, RtpgateCollector]
    assert list(plugin.rtpgate_metrics_collectors(runtime))


def test_served_over_http(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server()
    status, headers, body = server.http("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert b"rtpengine_uptime_seconds" in body and promtool(body.decode()) == ""
    status, headers, body = server.http("GET", "/metrics", headers={"Accept": OPENMETRICS})
    assert status == 200 and headers["content-type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    assert server.http("POST", "/metrics", b"x", {"Content-Type": "text/plain"})[0] == 404


async def test_metrics_over_http_in_process(rtpgate_inprocess: Any) -> None:
    """The same protocol behind the real HTTP transport, on the test's own loop: a counter the
    test bumps in ``runtime.stats`` shows in the next scrape."""
    import rtpgate_http.plugin

    server = await rtpgate_inprocess(rtpgate_http.plugin, rtpgate_metrics.plugin)
    server.runtime.stats.control.record("10.9.8.7", "ping", 0.001, False)
    host, port = server.address("http")
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: rtpgate\r\nConnection: close\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b'rtpengine_requests_total{proxy="10.9.8.7",request="ping"} 1.0' in body
