#!/usr/bin/env python3
"""offer -> answer -> delete cycles per second: rtpgate against rtpengine 10.5, same run.

Drives ``/work/shared/tools/ngload.py`` (mode ``cycle``) over HTTP ``POST /ng`` and WebSocket
``ng.rtpengine.com`` at each concurrency, alternating between the two servers, and prints
calls/s, the ratio rtpgate/rtpengine, call latency percentiles and server CPU.  Both servers
run with ``--delete-delay=0`` (otherwise deleted calls keep their ports and the range runs out).

    .venv/bin/python bench/ng_cycles.py                    # starts both servers itself
    .venv/bin/python bench/ng_cycles.py --duration 10 --concurrency 1 8 32 --transport http ws
    .venv/bin/python bench/ng_cycles.py --rtpengine 127.0.0.1:28080 --rtpengine-pid 1234

rtpengine is started with ``/work/shared/tools/start-rtpengine.sh`` on its own ports (its
default log level 6 logs every request; ``--rtpengine-log-level 5`` quietens it), rtpgate with
its defaults.  ``--json FILE`` also writes every ngload result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TOOLS = Path("/work/shared/tools")
NGLOAD = TOOLS / "ngload.py"
REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ping(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as reply:
                if reply.read() == b"pong\n":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers /ping on port {port}")


def start_rtpgate(port: int) -> subprocess.Popen[bytes]:
    rtpgate = REPO / ".venv" / "bin" / "rtpgate"
    proc = subprocess.Popen([str(rtpgate), "-f", "-E", "--config-file=none",
                             f"--listen-http=127.0.0.1:{port}", "--delete-delay=0",
                             "--port-min=36000", "--port-max=39999"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(port)
    return proc


def start_rtpengine(port: int, log_level: int) -> int:
    ports = [free_port() for _ in range(4)]
    extra = (f"--delete-delay=0 --log-level={log_level} --listen-http=127.0.0.1:{port} "
             f"--listen-https=127.0.0.1:{ports[0]} --listen-ng=127.0.0.1:{ports[1]} "
             f"--listen-tcp-ng=127.0.0.1:{ports[2]} --listen-cli=127.0.0.1:{ports[3]} "
             "--port-min=50000 --port-max=59999")
    env = {**os.environ, "RUN_DIR": "/tmp/rtpengine-ngbench", "RTPE_EXTRA": extra,
           "WAIT_URL": f"http://127.0.0.1:{port}/ping"}
    out = subprocess.run([str(TOOLS / "start-rtpengine.sh")], capture_output=True, text=True,
                         env=env, check=True)
    match = re.search(r"PID (\d+)", out.stdout)
    if not match:
        raise RuntimeError(out.stdout + out.stderr)
    wait_ping(port)
    return int(match.group(1))


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

    started: list[tuple[str, object]] = []
    try:
        if args.rtpgate:
            gate_port, gate_pid = int(args.rtpgate.rsplit(":", 1)[1]), args.rtpgate_pid or 0
        else:
            gate_port = free_port()
            proc = start_rtpgate(gate_port)
            gate_pid = proc.pid
            started.append(("rtpgate", proc))
        if args.rtpengine:
            engine_port = int(args.rtpengine.rsplit(":", 1)[1])
            engine_pid = args.rtpengine_pid or 0
        else:
            engine_port = free_port()
            engine_pid = start_rtpengine(engine_port, args.rtpengine_log_level)
            started.append(("rtpengine", engine_pid))
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
    finally:
        for name, handle in started:
            if name == "rtpgate":
                assert isinstance(handle, subprocess.Popen)
                handle.send_signal(signal.SIGTERM)
                handle.wait(10)
            else:
                assert isinstance(handle, int)
                os.kill(handle, signal.SIGTERM)
    return 0


if __name__ == "__main__":
    sys.exit(main())
