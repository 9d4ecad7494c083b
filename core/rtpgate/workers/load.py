"""The load limits over every worker: ``--max-sessions`` and ``--max-bandwidth`` count every
worker's calls and relayed bandwidth, as one process counts its own.

Before a new call is admitted (``offer``, ``publish``), its owner asks every sibling for its
own-call count and bandwidth (:attr:`rtpgate.engine.limits.LoadMonitor.siblings`), only when
one of those two limits is set.  CPU and the load average are the machine's already.  Offers
at the same instant on two workers may both be admitted at the limit (each counts the other's
calls as they are when it asks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime import Runtime

#: The name of a worker's load among the workers' gathered views.
GATHER_NAME = "engine.load"


def register(runtime: Runtime) -> None:
    """Share this worker's load with its siblings, and count theirs before admitting a call."""
    workers = runtime.workers
    if workers is None:
        return
    engine = runtime.engine

    async def part(_argument: Any) -> list[float]:
        own, _foreign = engine.sessions()
        return [own, engine.load.bytes_per_second]

    async def siblings() -> tuple[int, float]:
        parts = (await workers.gather(GATHER_NAME))[1:]  # this worker's own comes first
        return sum(int(p[0]) for p in parts), sum(float(p[1]) for p in parts)

    workers.register(GATHER_NAME, part)
    engine.siblings_load = siblings
