"""Servers for the raw-socket transport tests: core + rtpgate-udp + the probe protocols of this
directory (``probe_raw``, loaded with ``--plugin`` and found through ``PYTHONPATH``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess

PROBE_ENV = {"PYTHONPATH": str(Path(__file__).parent)}


@pytest.fixture
def probe_server(rtpgate_server: Callable[..., ServerProcess]) -> Callable[..., ServerProcess]:
    """``probe_server(*listen_args)``: a server with the probe protocols listening there."""

    def start(*args: str) -> ServerProcess:
        return rtpgate_server("--plugin=probe_raw", *args, env=PROBE_ENV)

    return start
