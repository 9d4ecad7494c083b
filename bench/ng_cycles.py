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
from pathlib import Path

from servers import TOOLS, cpu_seconds, reference_rtpengine, rtpgate

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
    parser.add_argument("--workers", type=int, default=1,
                        help="rtpgate's --num-threads (its CPU is then the workers' summed)")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        if args.rtpgate:
            gate_port, gate_pid = int(args.rtpgate.rsplit(":", 1)[1]), args.rtpgate_pid or 0
            gate_workers: tuple[int, ...] = ()
            gate_ng = int(args.rtpgate_ng.rsplit(":", 1)[1]) if args.rtpgate_ng else 0
        else:
            gate = stack.enter_context(rtpgate(
                ["--listen-http=127.0.0.1:0", "--listen-ng=127.0.0.1:0", "--delete-delay=0",
                 "--port-min=36000", "--port-max=39999", f"--num-threads={args.workers}"],
                timeout=20 * args.workers))
            gate_port, gate_pid, gate_workers = gate.port("http"), gate.pid, gate.workers
            gate_ng = gate.port("ng-udp")
        if args.rtpengine:
            engine_port = int(args.rtpengine.rsplit(":", 1)[1])
            engine_ng = int(args.rtpengine_ng.rsplit(":", 1)[1]) if args.rtpengine_ng else 0
            engine_pid = args.rtpengine_pid or 0
        else:
            engine_port, engine_ng = free_port(), free_port()
            engine_pid = stack.enter_context(reference_rtpengine(
                rtpengine_options(engine_port, engine_ng, args.rtpengine_log_level)))
        results = []
        print(f"offer/answer/delete cycles, {args.duration:g} s each; rtpgate pid {gate_pid} "
              f"({args.workers} worker(s)) "
              f"port {gate_port}, rtpengine pid {engine_pid} port {engine_port}")
        for transport in args.transport:
            for concurrency in args.concurrency:
                udp = transport == "udp"
                theirs = ngload(transport, engine_ng if udp else engine_port, concurrency,
                                args.duration, engine_pid)
                ours = ngload(transport, gate_ng if udp else gate_port, concurrency,
                              args.duration, gate_pid, gate_workers)
                ratio = float(ours["calls_per_s"]) / max(float(theirs["calls_per_s"]), 1e-9)  # type: ignore[arg-type]
                print(f"{transport} c={concurrency}: ratio rtpgate/rtpengine {ratio:.2f}")
                print(row("rtpgate", ours))
                print(row("rtpengine", theirs))
                sys.stdout.flush()
                results.append({"transport": transport, "concurrency": concurrency,
                                "rtpgate": ours, "rtpengine": theirs, "ratio": ratio})
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
