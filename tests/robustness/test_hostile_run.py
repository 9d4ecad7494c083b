"""The hostile-input run (``hostile.py``) against a real server: valid requests answered
throughout, and at the end RSS levelled off, no file descriptor and no media port left behind.

It runs for ``RTPGATE_HOSTILE_SECONDS`` (``tox -e robustness`` sets 120); without that variable
it is skipped, so the e2e environment does not spend the minutes.  The run must outlast the ng
cookie cache (entries live 30-60 s) for its second half to show a steady state: in a 60 s run
the cache fills until the end, and the RSS check saw the cache, not a leak.  The 10-minute run
of the same runner is in docs/performance.md (``python tests/robustness/hostile.py
--seconds 600``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from hostile import Target, run, usage
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

SECONDS = float(os.environ.get("RTPGATE_HOSTILE_SECONDS", "0"))
MIB = 1024


def ng_plain(server: ServerProcess, request: dict[str, Any]) -> dict[str, Any]:
    """bencode, not JSON: hostile call-ids are not UTF-8."""
    status, _, body = server.http("POST", "/ng-plain", codec.encode(request, "bencode"),
                                  {"Content-Type": "application/x-rtpengine-ng"})
    assert status == 200, body
    return codec.decode(body)[0]


def ports_used(server: ServerProcess) -> int:
    stats = ng_plain(server, {"command": "statistics"})["statistics"]
    return sum(i["ports"]["used"] for i in stats["interfaces"])


@pytest.mark.skipif(not SECONDS, reason="set RTPGATE_HOSTILE_SECONDS (tox -e robustness)")
def test_hostile_run(tmp_path: Path) -> None:
    server = ServerProcess(["--delete-delay=0", "--listen-http=127.0.0.1:0",
                            "--listen-ng=127.0.0.1:0", "--listen-tcp-ng=127.0.0.1:0",
                            "--listen-cli=127.0.0.1:0", "--log-level=5"],
                           workdir=tmp_path).start()
    try:
        # every serving process (each worker at RTPGATE_TEST_WORKERS=2): RSS and descriptors
        # are the whole server's, summed over them
        pids = tuple(server.serving_pids)
        assert server.http("GET", "/ping")[0] == 200
        fds_before, ports_before = usage(pids)[1], ports_used(server)
        report = run(Target(pids, server.address("http"), server.address("ng-udp"),
                            server.address("ng-tcp"), server.address("cli-tcp")),
                     SECONDS, sample=SECONDS / 12)
        summary = (f"{report.inputs} inputs in {report.seconds:.0f} s: {report.sent}; "
                   f"{report.checks} checks, slowest {report.check_max_latency_ms:.0f} ms, "
                   f"failed: {report.check_failures}; RSS/fds {report.samples}")
        print(summary)
        assert server.alive, server.log[-5000:]
        assert report.inputs > 100 * SECONDS, summary
        # valid requests on every transport were answered throughout
        assert report.checks >= SECONDS, summary
        assert report.check_failures == [], summary
        # RSS levels off: the second half grows by less than a third of the first half's
        # growth, and at most 24 MiB (hostile calls, caches and buffers are all bounded)
        rss = [kib for _, kib, _ in report.samples]
        half = len(rss) // 2
        first, second = max(rss[:half + 1]) - rss[0], rss[-1] - max(rss[:half + 1])
        assert second <= max(first / 3, 8 * MIB) and second <= 24 * MIB, summary
        # every call deleted: every media port and descriptor is given back
        for call_id in ng_plain(server, {"command": "list", "limit": 10000})["calls"]:
            ng_plain(server, {"command": "delete", "call-id": call_id, "delete-delay": 0})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (ports_used(server) != ports_before or
                                               usage(pids)[1] > fds_before + 5 * len(pids)):
            time.sleep(0.5)
        assert ports_used(server) == ports_before
        rss, fds = usage(pids)
        assert fds <= fds_before + 5 * len(pids), (fds, fds_before)
        # no worker died and was replaced during the run (its calls would have gone with it)
        assert server.serving_pids == list(pids), server.log[-5000:]
        print(f"after: RSS {rss / MIB:.1f} MiB, fds {fds}")
    finally:
        code = server.stop()
    assert code == 0, server.log[-5000:]
    assert "Traceback" not in server.log, server.log[-5000:]
    assert len(server.log) < 2_000_000 * max(SECONDS, 60) / 60, "log flood"
