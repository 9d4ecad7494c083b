"""A real ``redis-server`` for the tests: on a free loopback port, keyspace notifications on,
no persistence, stopped by its pid."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *extra: str, timeout: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (Debian package redis-server)"
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - closed below
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--notify-keyspace-events",
             "KEA", "--enable-debug-command", "local", *extra],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                pass
            assert self.proc.poll() is None, (self.workdir / "redis.log").read_text()
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.05)

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def media_range(size: int = 1000) -> list[str]:
    """A free media port range for one test: other tests and benchmarks on this machine bind
    media ports too, so a random range is checked to be free (bound and let go) first."""
    for _ in range(50):
        base = random.randrange(10000, 30000 - size, 100)
        if _all_free(base, base + size - 1):
            return [f"--port-min={base}", f"--port-max={base + size - 1}"]
    raise AssertionError("no free media port range")


def _all_free(first: int, last: int) -> bool:
    for port in range(first, last + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def rtpgate_args(redis: RedisServer, db: int, ports: list[str], *extra: str) -> list[str]:
    return ["--listen-http=127.0.0.1:0", "--interface=127.0.0.1", *ports,
            f"--redis={redis.address}/{db}", "--delete-delay=0", *extra]
