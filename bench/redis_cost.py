#!/usr/bin/env python3
"""What Redis costs: offer/answer/delete cycles per second with and without ``--redis`` (same
run, alternating), and the time to restore 1,000 calls at startup.

    .venv/bin/python bench/redis_cost.py                     # 10 s per run, concurrency 1 8 32
    .venv/bin/python bench/redis_cost.py --duration 5 --concurrency 8 --calls 1000 --rounds 4
    .venv/bin/python bench/redis_cost.py --restore-only --profile /tmp/restore.prof
    .venv/bin/python bench/redis_cost.py --before /tmp/old/plugins/redis   # before/after

With ``--before DIR`` a third server runs with ``--redis`` and the ``rtpgate_redis`` package of
``DIR`` (an older checkout's ``plugins/redis``, put first on its ``PYTHONPATH``), in the same
rounds: a change to the plugin measured before and after in one run.

A ``redis-server`` is started on a free loopback port (no persistence) and stopped by its pid.
Cycles are driven by the shared ``tools/ngload.py`` over HTTP ``POST /ng``.  For the restore,
``--calls`` calls are set up (offer and answer) on an rtpgate with ``--redis``, it is killed
(SIGKILL), and a new one is started on the same Redis: the figure is the restore time it logs
(``SCAN`` + ``MGET`` + rebuilding every call on its ports), and the time until it is ready.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ng_cycles import ngload, row
from servers import rtpgate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (Debian package redis-server)")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("redis-server did not start")


def ng(conn: http.client.HTTPConnection, message: dict[str, object]) -> dict[str, object]:
    conn.request("POST", "/ng-plain", json.dumps(message).encode(),
                 {"Content-Type": "application/json"})
    reply: dict[str, object] = json.loads(conn.getresponse().read())
    if reply.get("result") != "ok":
        raise RuntimeError(reply)
    return reply


def sdp(port: int) -> str:
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=sendrecv\r\n")


def restore_time(redis_port: int, calls: int, workdir: Path, profile: Path | None = None
                 ) -> tuple[float, float]:
    """(restore time the server logs, seconds from start to ready) for ``calls`` calls; with
    ``profile``, the restarted server runs under cProfile and writes its profile there."""
    base = ["-f", "-E", "--config-file=none", "--listen-http=127.0.0.1:0",
            "--interface=127.0.0.1", "--port-min=13000", "--port-max=17999",
            f"--redis=127.0.0.1:{redis_port}/3"]
    with rtpgate(base) as gate:
        conn = http.client.HTTPConnection("127.0.0.1", gate.port("http"), timeout=30)
        for n in range(calls):
            ng(conn, {"command": "offer", "call-id": f"bench-{n}", "from-tag": "a",
                      "sdp": sdp(20000 + 2 * (n % 5000))})
            ng(conn, {"command": "answer", "call-id": f"bench-{n}", "from-tag": "a",
                      "to-tag": "b", "sdp": sdp(30000 + 2 * (n % 5000))})
        conn.close()
        time.sleep(2)  # the writer's last batch
        os.kill(gate.pid, signal.SIGKILL)
        while Path(f"/proc/{gate.pid}").exists() and _zombie(gate.pid) is False:
            time.sleep(0.05)
    ready = workdir / "ready.json"
    log = workdir / "restore.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        proc = subprocess.Popen([sys.executable, *profiler, "-m", "rtpgate", *base[:-1],
                                 base[-1], f"--ready-file={ready}"], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise RuntimeError(log.read_text())
            time.sleep(0.01)
        to_ready = time.monotonic() - started
        found = re.search(r"restored (\d+) calls from Redis in ([\d.]+) s", log.read_text())
        if found is None or int(found.group(1)) != calls:
            raise RuntimeError(f"unexpected restore: {log.read_text()}")
        return float(found.group(2)), to_ready
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def cpu_per_call(result: dict[str, object]) -> float:
    """Server CPU milliseconds per offer/answer/delete cycle: less sensitive than the rate to
    what else the machine runs."""
    cpu = float(result.get("daemon_cpu_pct") or 0)  # type: ignore[arg-type]
    rate = float(result["calls_per_s"])  # type: ignore[arg-type]
    return 10 * cpu / rate if rate else float("nan")


def cycles(args: argparse.Namespace, redis_port: int) -> None:
    """Offer/answer/delete cycles without and with ``--redis`` (and ``--before``), per
    concurrency, in ``--rounds`` rounds whose order rotates (without first, then with first),
    so that what the shared machine does meanwhile falls on each; the medians are compared."""
    common = ["--listen-http=127.0.0.1:0", "--delete-delay=0", "--interface=127.0.0.1"]
    redis = [f"--redis-format={args.format}"]
    with contextlib.ExitStack() as stack:
        plain = stack.enter_context(rtpgate([*common, "--port-min=11000", "--port-max=11999"]))
        stored = stack.enter_context(rtpgate([
            *common, "--port-min=12000", "--port-max=12999", *redis,
            f"--redis=127.0.0.1:{redis_port}/1"]))
        servers = [("without", plain), ("--redis", stored)]
        if args.before is not None:
            path = os.pathsep.join([str(args.before), os.environ.get("PYTHONPATH", "")])
            servers.append(("before", stack.enter_context(rtpgate(
                [*common, "--port-min=13000", "--port-max=13999", *redis,
                 f"--redis=127.0.0.1:{redis_port}/2"], env={"PYTHONPATH": path}))))
        hiredis = "installed" if importlib.util.find_spec("hiredis") else \
            "NOT installed (reinstall plugins/redis: it depends on it)"
        print(f"offer/answer/delete cycles over HTTP, {args.duration:g} s each, "
              f"{args.rounds} rounds; --redis-format={args.format}; hiredis {hiredis}; load "
              f"average {os.getloadavg()[0]:.1f}")
        for concurrency in args.concurrency:
            rates: dict[str, list[float]] = {name: [] for name, _ in servers}
            cpu: dict[str, list[float]] = {name: [] for name, _ in servers}
            for round_ in range(args.rounds):
                shift = round_ % len(servers)  # each server first in turn
                for name, gate in servers[shift:] + servers[:shift]:
                    result = ngload("http", gate.port("http"), concurrency, args.duration,
                                    gate.pid)
                    rates[name].append(float(result["calls_per_s"]))  # type: ignore[arg-type]
                    cpu[name].append(cpu_per_call(result))
                    print(row(name, result))
            without, with_redis = (statistics.median(rates[k]) for k in ("without", "--redis"))
            print(f"c={concurrency}: median calls/s {without:.0f} without, {with_redis:.0f} "
                  f"with --redis ({with_redis / max(without, 1e-9):.2f}); median rtpgate CPU "
                  f"per cycle {statistics.median(cpu['without']):.2f} ms without, "
                  f"{statistics.median(cpu['--redis']):.2f} ms with; load average "
                  f"{os.getloadavg()[0]:.1f}")
            if args.before is not None:
                before = statistics.median(rates["before"])
                print(f"c={concurrency}: before (--before): median calls/s {before:.0f} "
                      f"({before / max(without, 1e-9):.2f}), median rtpgate CPU per cycle "
                      f"{statistics.median(cpu['before']):.2f} ms")
            sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--calls", type=int, default=1000, help="calls to restore")
    parser.add_argument("--format", default="bencode", choices=["bencode", "JSON"])
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds per concurrency (their order alternates)")
    parser.add_argument("--restore-only", action="store_true",
                        help="measure the restore only (no cycles)")
    parser.add_argument("--profile", type=Path, help="cProfile the restarted server into this")
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="also a --redis server with the rtpgate_redis package of DIR "
                             "(an older plugins/redis), in the same rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtpgate-bench-redis-") as tmp:
        workdir = Path(tmp)
        redis_proc, redis_port = start_redis(workdir)
        try:
            if not args.restore_only:
                cycles(args, redis_port)
            restore, to_ready = restore_time(redis_port, args.calls, workdir, args.profile)
            print(f"restore of {args.calls} calls: {restore:.3f} s (logged), "
                  f"{to_ready:.3f} s from start to ready; load average "
                  f"{os.getloadavg()[0]:.1f}")
        finally:
            redis_proc.kill()
            redis_proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
