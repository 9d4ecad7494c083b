#!/usr/bin/env python3
"""offer -> answer -> delete cycles per second: rtpgate against rtpengine 10.5, same run.

Drives ``../shared/tools/ngload.py`` (mode ``cycle``) over HTTP ``POST /ng`` and WebSocket
``ng.rtpengine.com`` at each concurrency, alternating between the two servers, and prints
calls/s, the ratio rtpgate/rtpengine, call latency percentiles and server CPU.  Both servers
run with ``--delete-delay=0`` (otherwise deleted calls keep their ports and the range runs out).

    .venv/bin/python bench/ng_cycles.py                    # starts both servers itself
    .venv/bin/python bench/ng_cycles.py --duration 10 --concurrency 1 8 32 --transport http ws
    .venv/bin/python bench/ng_cycles.py --rtpengine 127.0.0.1:28080 --rtpengine-pid 1234

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
from pathlib import Path

from servers import TOOLS, reference_rtpengine, rtpgate

NGLOAD = TOOLS / "ngload.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rtpengine_options(port: int, log_level: int) -> str:
    """HTTP on ``port``, every other listener on a free port and media ports of its own."""
    ports = [free_port() for _ in range(4)]
    return (f"--delete-delay=0 --log-level={log_level} --listen-http=127.0.0.1:{port} "
            f"--listen-https=127.0.0.1:{ports[0]} --listen-ng=127.0.0.1:{ports[1]} "
            f"--listen-tcp-ng=127.0.0.1:{ports[2]} --listen-cli=127.0.0.1:{ports[3]} "
            "--port-min=50000 --port-max=59999")


def ngload(transport: str, port: int, concurrency: int, duration: float, pid: int
           ) -> dict[str, object]:
    out = subprocess.run([sys.executable, str(NGLOAD), "--transport", transport, "--port",
                          str(port), "--concurrency", str(concurrency), "--duration",
                          str(duration), "--pid", str(pid), "--json"],
                         capture_output=True, text=True, timeout=duration + 120)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(out.stdout + out.stderr)
    result: dict[str, object] = json.loads(lines[-1])
    return result


def row(name: str, r: dict[str, object]) -> str:
    lat = r["call_latency_ms"]
    assert isinstance(lat, dict)
    cpu = r.get("daemon_cpu_pct")
    return (f"  {name:9s} {r['calls_per_s']:8.1f} calls/s  p50 {lat['p50']:7.2f}  "
            f"p90 {lat['p90']:7.2f}  p99 {lat['p99']:7.2f} ms  errors {r['errors']}  "
            f"server CPU {cpu if cpu is not None else '?'}%")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--transport", nargs="+", default=["http", "ws"],
                        choices=["http", "ws"])
    parser.add_argument("--rtpgate", help="HOST:PORT of a running rtpgate (default: start one)")
    parser.add_argument("--rtpgate-pid", type=int)
    parser.add_argument("--rtpengine", help="HOST:PORT of a running rtpengine (default: start "
                                            "one)")
    parser.add_argument("--rtpengine-pid", type=int)
    parser.add_argument("--rtpengine-log-level", type=int, default=6)
    parser.add_argument("--json", help="write every result to this file")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        if args.rtpgate:
            gate_port, gate_pid = int(args.rtpgate.rsplit(":", 1)[1]), args.rtpgate_pid or 0
        else:
            gate = stack.enter_context(rtpgate(
                ["--listen-http=127.0.0.1:0", "--delete-delay=0", "--port-min=36000",
                 "--port-max=39999"]))
            gate_port, gate_pid = gate.port("http"), gate.pid
        if args.rtpengine:
            engine_port = int(args.rtpengine.rsplit(":", 1)[1])
            engine_pid = args.rtpengine_pid or 0
        else:
            engine_port = free_port()
            engine_pid = stack.enter_context(reference_rtpengine(
                rtpengine_options(engine_port, args.rtpengine_log_level)))
        results = []
        print(f"offer/answer/delete cycles, {args.duration:g} s each; rtpgate pid {gate_pid} "
              f"port {gate_port}, rtpengine pid {engine_pid} port {engine_port}")
        for transport in args.transport:
            for concurrency in args.concurrency:
                theirs = ngload(transport, engine_port, concurrency, args.duration, engine_pid)
                ours = ngload(transport, gate_port, concurrency, args.duration, gate_pid)
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
