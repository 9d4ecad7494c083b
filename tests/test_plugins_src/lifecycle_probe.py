"""Test plugin using the option, startup and shutdown hooks: it declares ``--lifecycle-log``
and appends ``startup <pid>`` and ``shutdown <pid>`` lines to that file."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.options import Option
from rtpgate.runtime import Runtime


def _append(runtime: Runtime, word: str) -> None:
    path = runtime.settings.lifecycle_log  # type: ignore[attr-defined]
    if path:
        with open(path, "a", encoding="ascii") as fh:
            fh.write(f"{word} {os.getpid()} {len(runtime.bound)}\n")


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [Option("lifecycle-log", str | None, None, "file the lifecycle probe appends to")]


@hookimpl
async def rtpgate_startup(runtime: Runtime) -> None:
    await asyncio.sleep(0)  # an awaitable result is awaited before the server is ready
    _append(runtime, "startup")


@hookimpl
def rtpgate_shutdown(runtime: Runtime) -> None:
    _append(runtime, "shutdown")
