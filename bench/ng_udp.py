#!/usr/bin/env python3
"""ng over UDP: ``ping`` and offer -> answer -> delete cycles per second, rtpgate and rtpengine
10.5 in the same run, with ``../shared/tools/ngload.py``.

    .venv/bin/python bench/ng_udp.py [--duration 10] [--concurrency 1,8,32] [--no-rtpengine]

rtpgate is started from the interpreter running this script (``python -m rtpgate``) with
``--listen-ng=127.0.0.1:12223 --delete-delay=0``; rtpengine with
``../shared/tools/start-rtpengine.sh`` (UDP 127.0.0.1:2223) and ``--delete-delay=0`` (with the
default 30 s the 10,001-port range runs out after about 2,500 calls), and is killed afterwards.
Both log at ``--log-level`` (default 6, the default of both).  Each row gives what ngload
measured and the server's CPU (100% = one core); the last lines give the ratio rtpgate /
rtpengine.  Loopback only; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass

from servers import TOOLS, alive, has_uvloop, reference_rtpengine, rtpengine_available, rtpgate

NGLOAD = TOOLS / "ngload.py"


@dataclass
class Result:
    server: str
    mode: str
    concurrency: int
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu: float
    errors: int


def ngload(port: int, pid: int, mode: str, concurrency: int, duration: int,
           server: str) -> Result:
    out = subprocess.run([sys.executable, str(NGLOAD), "--transport", "udp", "--port", str(port),
                          "--mode", mode, "--concurrency", str(concurrency), "--duration",
                          str(duration), "--pid", str(pid), "--json"],
                         capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    if data.get("first_error"):
        print(f"  {server} {mode} c={concurrency}: {data['errors']} errors, first: "
              f"{data['first_error']}", file=sys.stderr)
    latency = data["call_latency_ms"]
    return Result(server, mode, concurrency, data["calls_per_s"], latency["p50"], latency["p99"],
                  data.get("daemon_cpu_pct", float("nan")), data["errors"])


def runs(args: argparse.Namespace, port: int, pid: int, server: str) -> list[Result]:
    results = []
    for mode in args.modes:
        for c in args.concurrency:
            if not alive(pid):
                print(f"  {server} is gone: {mode} c={c} not run", file=sys.stderr)
                continue
            results.append(ngload(port, pid, mode, c, args.duration, server))
    return results


def bench_rtpgate(args: argparse.Namespace) -> list[Result]:
    with rtpgate([f"--listen-ng=127.0.0.1:{args.port}", "--delete-delay=0",
                  f"--log-level={args.log_level}"]) as gate:
        loop = "uvloop" if has_uvloop() else "asyncio"
        name = f"rtpgate (py{sys.version_info[0]}.{sys.version_info[1]}, {loop})"
        return runs(args, args.port, gate.pid, name)


def bench_rtpengine(args: argparse.Namespace) -> list[Result]:
    # it may die during the runs: runs() then says which were not run
    with reference_rtpengine(f"--delete-delay=0 --log-level={args.log_level}") as pid:
        return runs(args, 2223, pid, "rtpengine 10.5")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per ngload run")
    parser.add_argument("--concurrency", default="1,8,32",
                        type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--modes", default="ping,cycle", type=lambda s: s.split(","))
    parser.add_argument("--port", type=int, default=12223, help="rtpgate's ng UDP port")
    parser.add_argument("--log-level", type=int, default=6, help="of both servers")
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if not NGLOAD.exists():
        print(f"{NGLOAD} not found (set RTPGATE_SHARED)", file=sys.stderr)
        return 2

    results = bench_rtpgate(args)
    if not args.no_rtpengine and rtpengine_available():
        results += bench_rtpengine(args)
    elif not args.no_rtpengine:
        print("rtpengine or start-rtpengine.sh not found: rtpgate only", file=sys.stderr)

    print(f"# ng over UDP, ngload.py -d{args.duration}s, log level {args.log_level}, "
          f"{os.cpu_count()} cores, loopback; client and server share the cores")
    print(f"{'server':30} {'mode':>5} {'c':>3} {'per s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU':>5} {'errors':>6}")
    for r in results:
        print(f"{r.server:30} {r.mode:>5} {r.concurrency:3d} {r.per_second:8.0f} "
              f"{r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.cpu:4.0f}% {r.errors:6d}")
    ours = {(r.mode, r.concurrency): r.per_second for r in results
            if r.server.startswith("rtpgate")}
    theirs = [r for r in results if not r.server.startswith("rtpgate")]
    for mode in args.modes:
        ratios = ", ".join(f"c={r.concurrency}: {ours[(mode, r.concurrency)] / r.per_second:.2f}"
                           for r in theirs if r.mode == mode and r.per_second)
        if ratios:
            print(f"ratio rtpgate / rtpengine 10.5, {mode}: {ratios}")
    if args.json:
        print(json.dumps([r.__dict__ for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
