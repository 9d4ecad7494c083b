"""The dashboard with several workers (``--num-threads``): every worker's part of the page,
asked over the workers' local link (``runtime.workers``), this worker's own first.

A part is JSON: the worker's index, its last summary, the head of its calls table for each
view asked and the page of each asked call it owns (see ``DashboardProtocol.part``).  A
sibling that does not answer within :data:`TIMEOUT` is left out of that tick (logged, and the
page names it), so a stuck worker never holds the page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rtpgate.api import Workers

log = logging.getLogger("rtpgate.dashboard")

#: The name of one worker's part of the page, among the workers' gathered views.
PART_NAME = "dashboard.part"
#: Seconds a sibling has to send its part (the page ticks once a second).
TIMEOUT = 0.8

Part = Callable[[Any], Awaitable[dict[str, Any]]]


class Siblings:
    """This worker's way to every worker's part of the page."""

    def __init__(self, workers: Workers, part: Part) -> None:
        self.workers = workers
        self.count = workers.count
        self._part = part
        self._silent: set[int] = set()  #: siblings that did not answer last time (logged once)
        workers.register(PART_NAME, part)

    async def parts(self, argument: dict[str, Any]) -> list[dict[str, Any]]:
        """Every answering worker's part for ``argument``, this worker's first."""
        others = [i for i in range(self.count) if i != self.workers.index]
        asked = await asyncio.gather(*(self._ask(i, argument) for i in others))
        return [await self._part(argument), *(part for part in asked if part is not None)]

    async def _ask(self, index: int, argument: dict[str, Any]) -> dict[str, Any] | None:
        try:
            part: dict[str, Any] = await asyncio.wait_for(
                self.workers.ask(index, PART_NAME, argument), TIMEOUT)
        except Exception as exc:  # WorkerUnavailable, a timeout, or its failure
            if index not in self._silent:
                self._silent.add(index)
                log.warning("dashboard: worker %d sent no part of the page (%s); left out "
                            "until it answers", index, exc or type(exc).__name__)
            return None
        if index in self._silent:
            self._silent.discard(index)
            log.info("dashboard: worker %d answers again", index)
        return part
