"""Fixtures of the cli plugin's tests (the helpers are in ``cli_fakes``)."""

from __future__ import annotations

import pytest
from cli_fakes import EngineOptions, FakeEngine, Run, make_runtime, runner
from rtpgate.runtime import Runtime


@pytest.fixture
def bare() -> Run:
    """Core and the cli plugin only: no engine, no engine options."""
    return runner(make_runtime())


@pytest.fixture
def engine_runtime() -> Runtime:
    runtime = make_runtime(EngineOptions())
    runtime.engine = FakeEngine()  # type: ignore[attr-defined]
    return runtime


@pytest.fixture
def cli(engine_runtime: Runtime) -> Run:
    return runner(engine_runtime)
