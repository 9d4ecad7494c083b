"""Graceful stop: after SIGTERM, refuse new calls and let the running ones end.

With ``--shutdown-deadline`` above 0, the first stop signal does not stop the server at once:
the listeners stay open so ``answer``, ``delete`` and the CLI keep working, every new call is
refused (as a load limit, so a SIP proxy tries another media proxy), and the server stops as
soon as no own call is left (deleted calls waiting out ``delete-delay`` do not count), when the
deadline passes, or at a second stop signal.  ``terminate all`` on the CLI ends the wait.
rtpengine itself stops at once; 0, the default, does that too.

With several workers each worker drains, and what it waits for is every worker's running calls
(:func:`running_everywhere`), so all keep serving (listeners, the link to their siblings) until
the last call anywhere ends, as one process does, and then stop together.
"""

from __future__ import annotations

import asyncio
import logging

from . import sdnotify
from .runtime import Runtime

log = logging.getLogger("rtpgate.server")


#: The name of a worker's running calls among the workers' gathered views.
GATHER_NAME = "drain.running"


def running_calls(runtime: Runtime) -> int:
    """Own calls not yet deleted: what a drain waits for (this worker's)."""
    return sum(1 for call in runtime.engine.calls() if not call.deletion_mark and not call.foreign)


def register(runtime: Runtime) -> None:
    """Let the siblings count this worker's running calls (several workers)."""
    if runtime.workers is not None:
        async def part(_argument: object) -> int:
            return running_calls(runtime)
        runtime.workers.register(GATHER_NAME, part)


async def running_everywhere(runtime: Runtime) -> int:
    """:func:`running_calls` of every worker added up (a sibling that has stopped counts 0)."""
    if runtime.workers is None:
        return running_calls(runtime)
    return sum(int(part) for part in await runtime.workers.gather(GATHER_NAME))


async def drain(runtime: Runtime, deadline: float, signals: asyncio.Queue[int]) -> None:
    """Wait until no call runs, ``deadline`` seconds pass or another stop signal arrives on
    ``signals``."""
    loop = asyncio.get_running_loop()
    runtime.engine.load.draining = True
    end = loop.time() + deadline
    logged = -1
    while (left := await running_everywhere(runtime)) > 0:
        remaining = end - loop.time()
        if remaining <= 0:
            log.warning("shutdown deadline (%s s) reached with %d call(s) still running",
                        deadline, left)
            return
        text = f"draining: {left} call(s) running, stopping within {remaining:.0f} s"
        sdnotify.status(text)
        if left != logged:
            log.log(25, "%s", text)
            logged = left
        try:
            await asyncio.wait_for(signals.get(), timeout=min(remaining, 1.0))
        except TimeoutError:
            continue
        log.log(25, "second stop signal: stopping with %d call(s) running", left)
        return
    log.log(25, "drained: no call is running")
