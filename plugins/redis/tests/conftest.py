from __future__ import annotations

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
