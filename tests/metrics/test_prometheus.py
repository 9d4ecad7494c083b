"""A real Prometheus (Debian's ``prometheus``), started on loopback, scrapes rtpgate; its HTTP
API then reports rtpgate's counters with the values the test produced."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from calls import answer, offer
from metrics_helpers import ng
from rtpgate.testing import ServerProcess

Start = Callable[..., ServerProcess]


class Prometheus:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.proc = proc
        self.log = log

    def api(self, path: str, **params: str) -> object:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[float]:
        data = self.api("query", query=expr)
        assert isinstance(data, dict)
        return [float(r["value"][1]) for r in data["result"]]

    def wait_for(self, expr: str, expected: float, timeout: float = 60.0) -> None:
        """Until ``expr`` is one series whose value is ``expected`` (scrapes are every second)."""
        deadline = time.monotonic() + timeout
        got: list[float] = []
        while time.monotonic() < deadline:
            got = self.query(expr)
            if got == [expected]:
                return
            time.sleep(0.5)
        raise AssertionError(f"{expr}: {got}, expected [{expected}]\n{self.log.read_text()}")

    def target_health(self) -> list[tuple[str, str]]:
        data = self.api("targets")
        assert isinstance(data, dict)
        return [(t["health"], t["lastError"]) for t in data["activeTargets"]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[ServerProcess], Prometheus]]:
    """``prometheus(server)``: a Prometheus scraping ``server`` every second."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install prometheus (.ci/run does)"
    procs: list[subprocess.Popen[bytes]] = []

    def start(server: ServerProcess) -> Prometheus:
        host, port = server.address()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: rtpgate\n"
            f"    static_configs: [{{targets: ['{host}:{port}']}}]\n")
        listen = f"127.0.0.1:{_free_port()}"
        log = tmp_path / "prometheus.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                 f"--web.listen-address={listen}"], stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        url = f"http://{listen}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        return Prometheus(url, proc, log)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_prometheus_scrapes_the_control_counters(rtpgate_server: Start,
                                                 prometheus: Callable[[ServerProcess],
                                                                      Prometheus]) -> None:
    server = rtpgate_server()
    for _ in range(7):
        assert ng(server, {"command": "ping"})["result"] == "pong"
    ng(server, {"command": "nonsense"})
    prom = prometheus(server)
    prom.wait_for('rtpengine_requests_total{request="ping"}', 7)
    prom.wait_for('rtpengine_errors_total{proxy="127.0.0.1"}', 1)
    prom.wait_for("rtpgate_ng_cookie_cache_hits_total", 0)
    assert prom.target_health() == [("up", "")]
    # Prometheus asks for OpenMetrics: the counter that clashes with a gauge there is still
    # stored under rtpengine's sample name
    prom.wait_for("rtpengine_sessions_total", 0)
    prom.wait_for('count(rtpgate_request_duration_seconds_bucket{protocol="metrics"})', 16)


def test_prometheus_sees_the_calls_and_offers(rtpgate_server: Start,
                                              prometheus: Callable[[ServerProcess],
                                                                   Prometheus]) -> None:
    server = rtpgate_server()
    calls = [offer(server)[0] for _ in range(4)]  # skips while there is no engine
    for call_id in calls[:2]:
        answer(server, call_id)
    offer(server, calls[0])  # a re-offer: an offer, not a call
    prom = prometheus(server)
    prom.wait_for('rtpengine_sessions{type="own"}', len(calls))
    prom.wait_for('rtpengine_requests_total{request="offer"}', len(calls) + 1)
    assert prom.target_health() == [("up", "")]
