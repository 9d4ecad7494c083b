#!/usr/bin/env python3
"""offer -> answer -> delete cycles per second: rtpgate against rtpengine 10.5, same run.

Drives ``../shared/tools/ngload.py`` (mode ``cycle``) over HTTP ``POST /ng``, WebSocket
``ng.rtpengine.com`` and ng over UDP at each concurrency, alternating between the two servers,
and prints calls/s, the ratio rtpgate/rtpengine, call latency percentiles, the server's CPU (and
per call) and the load generator's own CPU.  Both servers
run with ``--delete-delay=0`` (otherwise deleted calls keep their ports and the range runs out).

    .venv/bin/python bench/ng_cycles.py                    # starts both servers itself
    .venv/bin/python bench/ng_cycles.py --duration 10 --concurrency 1 8 32 --transport http ws
    .venv/bin/python bench/ng_cycles.py --rtpengine 127.0.0.1:28080 --rtpengine-ng 127.0.0.1:22223 \
        --rtpengine-pid 1234 --transport http ws udp
    .venv/bin/python bench/ng_cycles.py --aim --workers 1 2     # the issue's aim, unattended

``--workers 1 2`` starts one rtpgate per worker count (``--num-threads``) and measures each in
every row, beside the same rtpengine.  ``--aim`` is issue 17's benchmark: HTTP, WebSocket and
UDP at concurrency 8 and 32, and at the end a summary of each worker count's ratios and of the
p99 at c=8 against rtpengine's.

rtpengine is started with ``../shared/tools/start-rtpengine.sh`` on its own ports (its
default log level 6 logs every request; ``--rtpengine-log-level 5`` quietens it), rtpgate with
its defaults.  ``--json FILE`` also writes every ngload result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers import TOOLS, cpu_seconds, has_uvloop, reference_rtpengine, rtpgate

NGLOAD = TOOLS / "ngload.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rtpengine_options(port: int, ng_port: int, log_level: int) -> str:
    """HTTP on ``port``, every other listener on a free port and media ports of its own."""
    ports = [free_port() for _ in range(4)]
    return (f"--delete-delay=0 --log-level={log_level} --listen-http=127.0.0.1:{port} "
            f"--listen-https=127.0.0.1:{ports[0]} --listen-ng=127.0.0.1:{ng_port} "
            f"--listen-tcp-ng=127.0.0.1:{ports[2]} --listen-cli=127.0.0.1:{ports[3]} "
            "--port-min=50000 --port-max=59999")


def ngload(transport: str, port: int, concurrency: int, duration: float, pid: int,
           workers: tuple[int, ...] = ()) -> dict[str, object]:
    """``ngload.py``'s result; with ``workers`` (their pids) the server's CPU is theirs, summed
    here (ngload samples one pid)."""
    before = sum(cpu_seconds(p) for p in workers)
    started = time.monotonic()
    out = subprocess.run([sys.executable, str(NGLOAD), "--transport", transport, "--port",
                          str(port), "--concurrency", str(concurrency), "--duration",
                          str(duration), "--pid", str(0 if workers else pid), "--json"],
                         capture_output=True, text=True, timeout=duration + 120)
    elapsed = time.monotonic() - started
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(out.stdout + out.stderr)
    result: dict[str, object] = json.loads(lines[-1])
    if workers:  # over the whole ngload run (start-up included): a slight underestimate
        used = sum(cpu_seconds(p) for p in workers) - before
        result["daemon_cpu_pct"] = round(100 * used / elapsed, 1)
    return result


def row(name: str, r: dict[str, object]) -> str:
    lat = r["call_latency_ms"]
    assert isinstance(lat, dict)
    cpu = r.get("daemon_cpu_pct")
    rate = float(r["calls_per_s"])  # type: ignore[arg-type]
    per_call = (f"{float(cpu) * 10 / rate:.2f} ms/call" if cpu is not None and rate  # type: ignore[arg-type]
                else "?")
    return (f"  {name:9s} {rate:8.1f} calls/s  p50 {lat['p50']:7.2f}  "
            f"p90 {lat['p90']:7.2f}  p99 {lat['p99']:7.2f} ms  errors {r['errors']}  "
            f"server CPU {cpu if cpu is not None else '?'}% ({per_call})  "
            f"client CPU {r.get('client_cpu_pct', '?')}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--transport", nargs="+", default=["http", "ws"],
                        choices=["http", "ws", "udp"])
    parser.add_argument("--rtpgate", help="HOST:PORT of a running rtpgate (default: start one)")
    parser.add_argument("--rtpgate-ng", help="HOST:PORT of that rtpgate's ng UDP listener")
    parser.add_argument("--rtpgate-pid", type=int)
    parser.add_argument("--rtpengine", help="HOST:PORT of a running rtpengine (default: start "
                                            "one)")
    parser.add_argument("--rtpengine-ng", help="HOST:PORT of that rtpengine's ng UDP listener")
    parser.add_argument("--rtpengine-pid", type=int)
    parser.add_argument("--rtpengine-log-level", type=int, default=6)
    parser.add_argument("--json", help="write every result to this file")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="rtpgate's --num-threads, one rtpgate per count measured in every "
                             "row (with several workers its CPU is theirs summed)")
    parser.add_argument("--aim", action="store_true",
                        help="issue 17's benchmark: --transport http ws udp --concurrency 8 32, "
                             "then a summary against the aim")
    args = parser.parse_args()
    if args.aim:
        args.transport, args.concurrency = ["http", "ws", "udp"], [8, 32]
    if not has_uvloop():
        print("note: uvloop is not installed for this interpreter: rtpgate runs on asyncio's "
              "own loop (pip install '.[uvloop]')", file=sys.stderr)

    with contextlib.ExitStack() as stack:
        gates: dict[str, Gate] = {}
        if args.rtpgate:
            gates["rtpgate"] = Gate(int(args.rtpgate.rsplit(":", 1)[1]),
                                    int(args.rtpgate_ng.rsplit(":", 1)[1]) if args.rtpgate_ng
                                    else 0, args.rtpgate_pid or 0, ())
        else:
            for count in args.workers:
                gate = stack.enter_context(rtpgate(
                    ["--listen-http=127.0.0.1:0", "--listen-ng=127.0.0.1:0", "--delete-delay=0",
                     f"--port-min={36000 + 1000 * len(gates)}",
                     f"--port-max={36999 + 1000 * len(gates)}", f"--num-threads={count}"],
                    timeout=20 * count))
                name = "rtpgate" if len(args.workers) == 1 else f"rtpgate/{count}"
                gates[name] = Gate(gate.port("http"), gate.port("ng-udp"), gate.pid,
                                   gate.workers)
        if args.rtpengine:
            engine_port = int(args.rtpengine.rsplit(":", 1)[1])
            engine_ng = int(args.rtpengine_ng.rsplit(":", 1)[1]) if args.rtpengine_ng else 0
            engine_pid = args.rtpengine_pid or 0
        else:
            engine_port, engine_ng = free_port(), free_port()
            engine_pid = stack.enter_context(reference_rtpengine(
                rtpengine_options(engine_port, engine_ng, args.rtpengine_log_level)))
        results = []
        print(f"offer/answer/delete cycles, {args.duration:g} s each; "
              + "; ".join(f"{name} pid {g.pid} ({len(g.workers) or 1} process(es)) port {g.port}"
                          for name, g in gates.items())
              + f"; rtpengine pid {engine_pid} port {engine_port}; load average "
              f"{load_average()}")
        for transport in args.transport:
            for concurrency in args.concurrency:
                udp = transport == "udp"
                load = load_average()
                theirs = ngload(transport, engine_ng if udp else engine_port, concurrency,
                                args.duration, engine_pid)
                ours = {name: ngload(transport, g.ng if udp else g.port, concurrency,
                                     args.duration, g.pid, g.workers)
                        for name, g in gates.items()}
                ratios = {name: float(r["calls_per_s"]) / max(float(theirs["calls_per_s"]),  # type: ignore[arg-type]
                                                                1e-9)
                          for name, r in ours.items()}
                print(f"{transport} c={concurrency} (load average {load}): ratio "
                      + ", ".join(f"{name}/rtpengine {ratio:.2f}"
                                  for name, ratio in ratios.items()))
                for name, r in ours.items():
                    print(row(name, r))
                print(row("rtpengine", theirs))
                sys.stdout.flush()
                results.append({"transport": transport, "concurrency": concurrency,
                                "load": load, "rtpgate": ours, "rtpengine": theirs,
                                "ratio": ratios})
        if args.aim:
            summary(results, list(gates))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


@dataclass(frozen=True)
class Gate:
    """One rtpgate measured: its HTTP/WS and ng UDP ports, its pid and its workers' pids."""

    port: int
    ng: int
    pid: int
    workers: tuple[int, ...]


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def summary(results: list[dict[str, Any]], names: list[str]) -> None:
    """Issue 17's aim: >= 1.0x rtpengine's rate in every row, p99 at c=8 no worse."""
    print("\naim: >= 1.00x rtpengine's calls/s at c=8 and c=32 over http, ws, udp; "
          "p99 at c=8 no worse than rtpengine's")
    for name in names:
        ratios = [r["ratio"][name] for r in results]
        p99 = [(r["transport"], float(r["rtpgate"][name]["call_latency_ms"]["p99"]),
                float(r["rtpengine"]["call_latency_ms"]["p99"]))
               for r in results if r["concurrency"] == 8]
        met = min(ratios) >= 1.0 and all(ours <= theirs for _, ours, theirs in p99)
        print(f"  {name}: ratio min {min(ratios):.2f} max {max(ratios):.2f}; p99 at c=8 "
              + ", ".join(f"{t} {ours:.0f}/{theirs:.0f} ms" for t, ours, theirs in p99)
              + f"; aim {'met' if met else 'not met'}")


if __name__ == "__main__":
    sys.exit(main())
