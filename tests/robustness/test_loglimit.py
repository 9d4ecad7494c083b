"""The log limiter and clipping that keep hostile input out of the log."""

from __future__ import annotations

import logging

import pytest
from rtpgate.loglimit import LogLimiter, clip


def test_one_line_per_key_and_interval_then_the_count_left_out(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    limiter = LogLimiter(interval=60, clock=lambda: now[0])
    log = logging.getLogger("test.loglimit")
    with caplog.at_level(logging.INFO):
        for _ in range(100):
            limiter.log(log, logging.WARNING, "10.0.0.1", "refused %s", "x")
        limiter.log(log, logging.WARNING, "10.0.0.2", "refused %s", "y")
        now[0] = 61
        limiter.log(log, logging.WARNING, "10.0.0.1", "refused %s", "x")
    assert [r.getMessage() for r in caplog.records] == [
        "refused x", "refused y", "refused x (99 similar messages suppressed)"]


def test_keys_are_bounded() -> None:
    limiter = LogLimiter(max_keys=100)
    for i in range(10_000):
        limiter.allow(f"source{i}")
    assert len(limiter) == 100


def test_clip() -> None:
    assert clip("short") == "'short'"
    assert clip(b"\xff\x00ab") == "'\\xff\\x00ab'"
    long = clip("y" * 70_000)
    assert long.endswith("... (70000 characters)") and len(long) < 200
