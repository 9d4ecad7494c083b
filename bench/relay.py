#!/usr/bin/env python3
"""RTP relay throughput: rtpgate and rtpengine 10.5 (userspace) in the same run, with
``../shared/tools/relaybench.py --find-max``.

    .venv/bin/python bench/relay.py [--seconds 5] [--rounds 1] [--no-rtpengine] [--fixed]
                                    [--rtpgate-arg=...] [-- ARGS]

Each server is started on its own loopback ports (rtpengine with
``../shared/tools/start-rtpengine.sh``, its listeners and media ports moved off the defaults so
that nothing else on the box clashes; rtpgate as ``python -m rtpgate`` from this interpreter),
driven over ng/UDP, and stopped.  relaybench sets up calls (offer/answer), then streams G.711-
sized RTP both ways from a separate sender process to a separate receiver process, raising the
total packet rate until loss exceeds 0.1 % (or the latency p99 200 ms, or the generator cannot
keep up).  ARGS after ``--`` go to relaybench.  The summary gives, per server, the highest
relayed rate that passed, the relay's CPU (100 % = one core) and its CPU time per 1,000 relayed
packets, then the ratio rtpgate / rtpengine.  With ``--fixed`` each server gets one run at the
rate given after ``--`` (``-- --calls 500 --pps 50``), for the CPU per packet at a set load.
Loopback only; every step is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from servers import TOOLS, reference_rtpengine, rtpgate

RELAYBENCH = TOOLS / "relaybench.py"

#: rtpengine's control listeners and media ports (off its defaults).
RTPENGINE_NG = 22323
RTPENGINE_EXTRA = ("--delete-delay=0 --listen-ng=127.0.0.1:22323 --listen-tcp-ng=127.0.0.1:22324 "
                   "--listen-cli=127.0.0.1:22990 --listen-http=127.0.0.1:22880 "
                   "--listen-https=127.0.0.1:22843 --port-min=30000 --port-max=34999")
#: rtpgate's.
RTPGATE_NG = 22423
RTPGATE_ARGS = ("--listen-ng=127.0.0.1:22423", "--listen-http=127.0.0.1:22480",
                "--interface=127.0.0.1", "--port-min=35000", "--port-max=39999",
                "--delete-delay=0", "--log-level=5")


def relaybench(ng_port: int, pid: int, label: str, args: argparse.Namespace) -> dict:
    mode = [] if args.fixed else ["--find-max"]
    cmd = [sys.executable, str(RELAYBENCH), "--ng", f"udp://127.0.0.1:{ng_port}", *mode,
           "--pid", str(pid), "--seconds", str(args.seconds), "--label", label,
           *args.relaybench]
    print(f"# {label}: {' '.join(cmd[1:])}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    for line in proc.stdout.splitlines()[:-1]:
        print(f"  {line}", flush=True)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"relaybench failed for {label}")
    result: dict = json.loads(proc.stdout.splitlines()[-1])
    return result


def bench_rtpgate(args: argparse.Namespace) -> dict:
    with rtpgate([*RTPGATE_ARGS, *args.rtpgate_arg]) as gate:
        return relaybench(RTPGATE_NG, gate.pid, "rtpgate", args)


def bench_rtpengine(args: argparse.Namespace) -> dict:
    with reference_rtpengine(RTPENGINE_EXTRA) as pid:
        return relaybench(RTPENGINE_NG, pid, "rtpengine 10.5 userspace", args)


def summary(result: dict) -> str:
    if result.get("mode") == "fixed":
        return (f"{result['label']:26} {result['relayed_pps']:>7} pps relayed of "
                f"{result['offered_pps']} offered (loss {result['loss_pct']} %, latency p99 "
                f"{result['lat_ms_p99']} ms), relay CPU {result['cpu_relay_pct']} %, "
                f"{result['relay_cpu_us_per_pkt']:.2f} ms CPU per 1,000 packets")
    best = result.get("best") or {}
    us = best.get("relay_cpu_us_per_pkt")
    per_k = f"{us:.2f} ms" if us is not None else "n/a"
    return (f"{result['label']:26} max {result.get('max_relayed_pps') or 0:>7} pps "
            f"(loss {best.get('loss_pct')} %, {best.get('calls')} calls x "
            f"{best.get('pps_per_dir', 0):.0f} pps x 2), relay CPU {best.get('cpu_relay_pct')} %, "
            f"{per_k} CPU per 1,000 packets; stopped by {result.get('limit')}")


def machine_load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="send window per step")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate the servers this many rounds (each round swaps who "
                             "goes first); the ratio of medians is reported")
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--fixed", action="store_true",
                        help="one run at relaybench's --calls/--pps (give them after --) "
                             "instead of --find-max: the CPU per packet at a set rate")
    parser.add_argument("--rtpgate-arg", action="append", default=[],
                        help="extra rtpgate option (repeatable)")
    parser.add_argument("--json", action="store_true", help="print every result as JSON too")
    parser.add_argument("relaybench", nargs="*", help="after --: options for relaybench.py")
    args = parser.parse_args()

    results: list[dict] = []
    for round_ in range(args.rounds):
        runs = [bench_rtpgate] if args.no_rtpengine else (
            [bench_rtpgate, bench_rtpengine] if round_ % 2 == 0
            else [bench_rtpengine, bench_rtpgate])
        for run in runs:
            load = machine_load()
            result = run(args)
            result["load_before"] = load
            results.append(result)
    print(f"# relaybench {'fixed rate' if args.fixed else '--find-max'}, {os.cpu_count()} "
          "cores, loopback, ng over UDP; the "
          "generator, the receiver and the relay share the cores")
    for result in results:
        print(f"{summary(result)} (1-min load before: {result['load_before']})")
    key = "relayed_pps" if args.fixed else "max_relayed_pps"
    best = {label: statistics.median(r.get(key) or 0 for r in results if r["label"] == label)
            for label in dict.fromkeys(r["label"] for r in results)}
    if len(best) == 2 and all(best.values()):
        ours, theirs = best["rtpgate"], next(v for k, v in best.items() if k != "rtpgate")
        print(f"median relayed: rtpgate {ours:.0f} pps, rtpengine {theirs:.0f} pps; "
              f"ratio rtpgate / rtpengine: {ours / theirs:.2f}")
    if args.json:
        print(json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
