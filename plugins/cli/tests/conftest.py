"""Fixtures of the cli plugin's tests (the helpers are in ``cli_fakes``)."""

from __future__ import annotations

import pytest
from cli_fakes import ControlTos, FakeEngine, Run, make_runtime, runner
from rtpgate.api import Runtime


@pytest.fixture
def bare() -> Run:
    """Core and the cli plugin only (the engine is core's, with no calls)."""
    return runner(make_runtime())


@pytest.fixture
def engine_runtime() -> Runtime:
    """Core, the cli plugin, ``control-tos``, and a stand-in engine with calls to show."""
    runtime = make_runtime(ControlTos())
    runtime.engine = FakeEngine()
    return runtime


@pytest.fixture
def cli(engine_runtime: Runtime) -> Run:
    return runner(engine_runtime)
