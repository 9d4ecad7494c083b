"""The trickle-ICE fragment queue's age limit and bounds (a clock the test moves)."""

from __future__ import annotations

from rtpgate.engine import trickle
from rtpgate.engine.trickle import FragmentQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_fragments_wait_in_order_and_expire_after_three_seconds() -> None:
    clock = Clock()
    queue = FragmentQueue(clock)
    queue.put("c", "a", "one")
    clock.now += 2.0
    queue.put("c", "a", "two")
    assert queue.take("c", "b") == []
    assert queue.take("c", "a") == ["one", "two"] and len(queue) == 0
    queue.put("c", "a", "old")
    clock.now += trickle.MAX_FRAGMENT_AGE + 0.1
    assert queue.take("c", "a") == [] and len(queue) == 0


def test_the_queue_is_bounded() -> None:
    clock = Clock()
    queue = FragmentQueue(clock)
    for i in range(trickle.MAX_QUEUED_PER_PARTY + 5):
        queue.put("c", "a", str(i))
    assert len(queue) == trickle.MAX_QUEUED_PER_PARTY
    for i in range(trickle.MAX_QUEUED * 2):
        queue.put(f"call-{i}", "a", "x")
    assert len(queue) == trickle.MAX_QUEUED
    assert queue.take("c", "a") == []  # the oldest went first
    clock.now += trickle.MAX_FRAGMENT_AGE + 0.1
    queue.put("new", "a", "y")  # expired parties go on the next put
    assert len(queue) == 1
