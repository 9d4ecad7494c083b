#!/usr/bin/env python3
"""The dashboard's own CPU cost with 2,000 calls and 20,000 packets/s relayed.

    .venv/bin/python bench/dashboard.py [--calls 2000] [--pps 5] [--seconds 30] [--rounds 2]

Each round runs rtpgate twice under the same load from ``../shared/tools/relaybench.py``
(``--calls`` calls, ``--pps`` packets per second per direction per call: 2,000 x 5 x 2 = 20,000
packets/s relayed): once with ``--dashboard`` and a dashboard client watching (the calls table
sorted by packet rate, 50 rows, and one call's page open, as an operator would), once without
the dashboard; the order alternates between rounds.  Two figures come out:

* the dashboard's own CPU, which it measures itself (the event loop thread's CPU time spent in
  its sampling, its calls-table refresh, encoding and sending, and in answering view changes;
  the ``dashboard.cpu_seconds`` of every tick), over the ticks at full load, as a share of one
  core;
* the relay process's CPU with and without the dashboard (relaybench's ``/proc/PID/stat``
  reading over the send window): the difference is the dashboard's cost as the whole process
  sees it, including what its self-measurement cannot see (Tornado's write path), but within
  the noise of a shared machine.

Loopback only; every step is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from servers import TOOLS, rtpgate
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

RELAYBENCH = TOOLS / "relaybench.py"
NG_PORT = 22523
HTTP_PORT = 22580
ARGS = (f"--listen-ng=127.0.0.1:{NG_PORT}", f"--listen-http=127.0.0.1:{HTTP_PORT}",
        "--interface=127.0.0.1", "--port-min=20000", "--port-max=29999", "--delete-delay=0",
        "--log-level=5")


class Watcher(threading.Thread):
    """A dashboard client: the calls table by packet rate and one call's page, every tick
    recorded as (time, dashboard CPU seconds, sessions, packets/s)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.ticks: list[tuple[float, float, int, int]] = []
        self.stop = threading.Event()
        self.rows_seen = 0

    def run(self) -> None:
        with connect(f"ws://127.0.0.1:{HTTP_PORT}/dashboard", open_timeout=10,
                     subprotocols=["dashboard.rtpgate"],  # type: ignore[list-item]
                     max_size=None) as conn:
            conn.send(json.dumps({"view": {"limit": 50, "sort": "rate", "descending": True}}))
            opened = False
            while not self.stop.is_set():
                try:
                    message = json.loads(conn.recv(timeout=2))
                except TimeoutError:
                    continue
                except ConnectionClosed:
                    return
                if message["type"] != "tick":
                    continue
                summary = message["summary"]
                if "dashboard" in summary:
                    self.ticks.append((summary["time"], summary["dashboard"]["cpu_seconds"],
                                       summary["sessions"]["total"], summary["relay"]["packets"]))
                rows = message["calls"]["rows"]
                self.rows_seen = max(self.rows_seen, len(rows))
                if rows and not opened and message["calls"]["total"] >= 100:
                    conn.send(json.dumps({"view": {"call": rows[0]["call_id"]}}))
                    opened = True

    def cost_pct(self, calls: int, pps: int) -> tuple[float, int]:
        """The dashboard's CPU share of one core over the ticks at full load, and how many."""
        loaded = [t for t in self.ticks if t[2] >= calls and t[3] >= pps]
        if len(loaded) < 2:
            return float("nan"), len(loaded)
        (t0, c0, _, _), (t1, c1, _, _) = loaded[0], loaded[-1]
        return 100 * (c1 - c0) / (t1 - t0), len(loaded)


def relaybench(pid: int, args: argparse.Namespace, label: str) -> dict[str, Any]:
    cmd = [sys.executable, str(RELAYBENCH), "--ng", f"udp://127.0.0.1:{NG_PORT}", "--pid",
           str(pid), "--calls", str(args.calls), "--pps", str(args.pps), "--seconds",
           str(args.seconds), "--label", label]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr, file=sys.stderr)
        raise SystemExit(f"relaybench failed ({label})")
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def run(args: argparse.Namespace, dashboard: bool) -> dict[str, Any]:
    label = "with dashboard" if dashboard else "without"
    load = Path("/proc/loadavg").read_text().split()[0]
    with rtpgate([*ARGS, *(["--dashboard"] if dashboard else [])]) as gate:
        watcher = Watcher()
        if dashboard:
            watcher.start()
        result = relaybench(gate.pid, args, label)
        watcher.stop.set()
        if dashboard:
            watcher.join(10)
    result["load_before"] = load
    if dashboard:
        target = int(0.75 * 2 * args.calls * args.pps)
        result["dashboard_pct"], result["dashboard_ticks"] = watcher.cost_pct(args.calls, target)
        result["rows_seen"] = watcher.rows_seen
    print(f"{label:15} relayed {result['relayed_pps']:>6} pps of {result['offered_pps']} "
          f"(loss {result['loss_pct']} %), relay process CPU {result['cpu_relay_pct']} %"
          + (f"; dashboard's own CPU {result['dashboard_pct']:.2f} % of one core over "
             f"{result['dashboard_ticks']} ticks at full load" if dashboard else "")
          + f" (1-min load before {load})", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pps", type=int, default=5, help="per direction per call")
    parser.add_argument("--seconds", type=float, default=30, help="send window per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(f"# {args.calls} calls x {args.pps} pps x 2 = {2 * args.calls * args.pps} pps offered, "
          f"{args.seconds:g} s send window, {os.cpu_count()} cores, loopback", flush=True)
    results = []
    for round_ in range(args.rounds):
        for dashboard in ((True, False) if round_ % 2 == 0 else (False, True)):
            results.append(run(args, dashboard))
    with_ = [r for r in results if "dashboard_pct" in r]
    without = [r for r in results if "dashboard_pct" not in r]
    own = statistics.median(r["dashboard_pct"] for r in with_)
    delta = (statistics.median(r["cpu_relay_pct"] for r in with_)
             - statistics.median(r["cpu_relay_pct"] for r in without))
    print(f"median: dashboard's own CPU {own:.2f} % of one core; relay process CPU with minus "
          f"without the dashboard {delta:+.1f} percentage points")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
