from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer
from rtpgate.testing import ServerProcess


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def media_range() -> list[str]:
    """A media port range of its own for each test (tests may run in parallel)."""
    base = random.randrange(20000, 29000, 100)
    return [f"--port-min={base}", f"--port-max={base + 999}"]


def rtpgate_args(redis: RedisServer, db: int, ports: list[str], *extra: str) -> list[str]:
    return ["--listen-http=127.0.0.1:0", "--interface=127.0.0.1", *ports,
            f"--redis={redis.address}/{db}", "--delete-delay=0", *extra]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``node(*args)`` starts an rtpgate with those options (stopped at the end, unless the
    test killed it)."""
    started: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        workdir = tmp_path / f"node{len(started)}"
        workdir.mkdir()
        server = ServerProcess(args, workdir=workdir)
        started.append(server)
        return server.start(timeout=60)

    yield start
    for server in started:
        if server.alive:
            assert server.stop(timeout=20) == 0, server.log
