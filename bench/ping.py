#!/usr/bin/env python3
"""``GET /ping`` requests per second with wrk: rtpgate, and rtpengine in the same run.

    .venv/bin/python bench/ping.py [--duration 10] [--connections 1,8,64] [--no-rtpengine]

rtpgate is started from the interpreter running this script (``python -m rtpgate``) on
127.0.0.1:18080; rtpengine 10.5 with ``../shared/tools/start-rtpengine.sh`` on its default
127.0.0.1:8080, once per ``--rtpengine-log-levels`` (its default level 6 logs every request,
which costs it about a third of its throughput), and is killed afterwards.  Each row gives
req/s, the p50/p99 latency and the server's CPU (100% = one core); the last lines give the
ratio rtpgate / rtpengine per connection count.  Loopback only; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from servers import cpu_seconds, has_uvloop, reference_rtpengine, rtpengine_available, rtpgate


@dataclass
class Result:
    server: str
    connections: int
    rps: float
    p50: str
    p99: str
    cpu: float


def wrk(url: str, connections: int, duration: int, pid: int, server: str) -> Result:
    threads = 1 if connections < 2 else 2
    before, start = cpu_seconds(pid), time.monotonic()
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
                          "--latency", url], capture_output=True, text=True,
                         timeout=duration + 30, check=True).stdout
    cpu = (cpu_seconds(pid) - before) / (time.monotonic() - start) * 100
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        print(f"  wrk reported: {errors.group(0)}", file=sys.stderr)
    return Result(server, connections, rps, latency.get("50", "?"), latency.get("99", "?"), cpu)


def bench_rtpgate(args: argparse.Namespace) -> list[Result]:
    with rtpgate([f"--listen-http=127.0.0.1:{args.port}",
                  f"--log-level={args.rtpgate_log_level}"]) as gate:
        url = f"http://127.0.0.1:{args.port}/ping"
        loop = "uvloop" if has_uvloop() else "asyncio"
        name = f"rtpgate ({loop}, log {args.rtpgate_log_level})"
        return [wrk(url, c, args.duration, gate.pid, name) for c in args.connections]


def bench_rtpengine(args: argparse.Namespace, log_level: int) -> list[Result]:
    with reference_rtpengine(f"--delete-delay=0 --log-level={log_level}") as pid:
        return [wrk("http://127.0.0.1:8080/ping", c, args.duration, pid,
                    f"rtpengine 10.5 (log {log_level})") for c in args.connections]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,8,64",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--port", type=int, default=18080, help="rtpgate's HTTP port")
    parser.add_argument("--rtpgate-log-level", type=int, default=6)
    parser.add_argument("--rtpengine-log-levels", default="6,5",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package wrk)", file=sys.stderr)
        return 2

    results = bench_rtpgate(args)
    if not args.no_rtpengine and rtpengine_available():
        for level in args.rtpengine_log_levels:
            results += bench_rtpengine(args, level)
    elif not args.no_rtpengine:
        print("rtpengine or start-rtpengine.sh not found: rtpgate only", file=sys.stderr)

    print(f"# GET /ping, wrk -d{args.duration}s, {os.cpu_count()} cores, loopback; "
          f"client and server share the cores")
    print(f"{'server':34} {'conns':>5} {'req/s':>9} {'p50':>9} {'p99':>9} {'server CPU':>10}")
    for r in results:
        print(f"{r.server:34} {r.connections:5d} {r.rps:9.0f} {r.p50:>9} {r.p99:>9} "
              f"{r.cpu:9.0f}%")
    ours = {r.connections: r.rps for r in results if r.server.startswith("rtpgate")}
    for name in dict.fromkeys(r.server for r in results if not r.server.startswith("rtpgate")):
        ratios = ", ".join(f"c={r.connections}: {ours[r.connections] / r.rps:.2f}"
                           for r in results if r.server == name)
        print(f"ratio rtpgate / {name}: {ratios}")
    if args.json:
        print(json.dumps([r.__dict__ for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
