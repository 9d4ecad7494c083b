"""Fixtures: a server with HTTP, WebSocket, the raw-socket transport, ng and the CLI (the
clients are in ``cli_clients``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from cli_clients import LISTENERS
from rtpgate.testing import ServerProcess


@pytest.fixture
def cli_server(rtpgate_server: Callable[..., ServerProcess]) -> Callable[..., ServerProcess]:
    """``cli_server(*args)``: a server with every CLI transport on ephemeral ports."""

    def start(*args: str) -> ServerProcess:
        return rtpgate_server(*LISTENERS, *args)

    return start


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for tests that only read."""
    server = ServerProcess(LISTENERS, workdir=tmp_path_factory.mktemp("cli-server")).start()
    yield server
    assert server.stop() == 0, server.log
