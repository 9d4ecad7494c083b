"""Bounded state under hostile input: the log limiter, clipping, per-proxy control counters."""

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
    # what is escaped counts: 120 undecodable bytes read as text were 578 characters of log
    garbage = bytes(range(128, 248)).decode("utf-8", "surrogateescape")
    escaped = clip(garbage)
    assert escaped.endswith("... (120 characters)") and len(escaped) < 200, escaped
    assert len(clip(bytes(range(256)))) < 200


def test_control_stats_keep_a_bounded_number_of_proxies() -> None:
    """Requests from ever new source addresses (a UDP flood can spoof them) are counted, but
    past MAX_PROXIES together under "other", not one entry each for ever."""
    from rtpgate.counters import MAX_PROXIES, OTHER_PROXIES, ControlStats

    stats = ControlStats()
    for i in range(MAX_PROXIES + 5000):
        stats.record(f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}", "ping", 0.001, False)
    assert len(stats.proxies) == MAX_PROXIES + 1
    assert stats.proxies[OTHER_PROXIES].counts["ping"] == 5000
    stats.record("10.0.0.1", "ping", 0.001, False)  # a known proxy is still counted alone
    assert stats.proxies["10.0.0.1"].counts["ping"] == 2
