"""Fixtures of the cli plugin's tests (the helpers are in ``cli_helpers``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from cli_helpers import ControlTos, Run, make_runtime, runner
from rtpgate.api import Runtime


@pytest.fixture
def bare() -> Run:
    """Core and the cli plugin only (the engine is core's, with no calls)."""
    return runner(make_runtime())


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for a test's ng requests and CLI commands (the relay lives on it)."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def engine_runtime(loop: asyncio.AbstractEventLoop) -> Iterator[Runtime]:
    """Core, the cli plugin and ``control-tos``; the engine's calls are released at the end."""
    runtime = make_runtime(ControlTos())
    yield runtime
    loop.run_until_complete(runtime.engine.stop())


@pytest.fixture
def cli(engine_runtime: Runtime, loop: asyncio.AbstractEventLoop) -> Run:
    return runner(engine_runtime, loop)
