"""Fixtures for the ng end-to-end tests: a server with HTTP, WS and the ng plugins."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess

HERE = Path(__file__).parent


def _env() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for a whole module of read-only tests (each test uses fresh cookies)."""
    server = ServerProcess(["--plugin=ng_test_commands"], env=_env(),
                           workdir=tmp_path_factory.mktemp("ng-server")).start()
    yield server
    assert server.stop() == 0, server.log


@pytest.fixture
def ng_server(rtpgate_server: Callable[..., ServerProcess]) -> Callable[..., ServerProcess]:
    """Start a server that also loads the test ng commands (``test-count``, ``test-sleep``)."""

    def start(*args: str) -> ServerProcess:
        return rtpgate_server("--plugin=ng_test_commands", *args, env=_env())

    return start
