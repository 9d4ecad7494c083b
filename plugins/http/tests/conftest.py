"""Servers for the HTTP transport tests: core + rtpgate-http + the probe protocols of this
directory (loaded with ``--plugin``, found through ``PYTHONPATH``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess

HERE = Path(__file__).parent
PROBE_ENV = {"PYTHONPATH": str(HERE)}
PROBE_ARGS = ("--plugin=probe_protocols",)


@pytest.fixture
def probe_server(rtpgate_server: Callable[..., ServerProcess]) -> Callable[..., ServerProcess]:
    """``probe_server(*args)``: a server with the probe protocols and the extra options."""

    def start(*args: str) -> ServerProcess:
        return rtpgate_server(*PROBE_ARGS, *args, env=PROBE_ENV)

    return start


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One probe server for the tests of a module that only read from it."""
    server = ServerProcess(PROBE_ARGS, env=PROBE_ENV,
                           workdir=tmp_path_factory.mktemp("shared-server")).start()
    yield server
    assert server.stop() == 0, server.log
