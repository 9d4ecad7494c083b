"""A third-party-style plugin adding ng commands through ``rtpgate_ng_commands`` (loaded by the
tests with ``--plugin ng_test_commands``): ``test-count`` returns how often it ran, ``test-sleep``
waits before answering, so cookie-cache replay and in-flight duplicates can be observed.  With
several workers the count is every worker's runs added up (the view ``test-runs``), so what a
test sees does not depend on the worker a request lands on."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from pydantic import Field
from rtpgate import hookimpl
from rtpgate.ngcommands.command import NgCommand, NgContext, NgError, Reply
from rtpgate.ngcommands.models import NgRequest, key
from rtpgate.runtime import Runtime

_runs = {"count": 0}


class SleepRequest(NgRequest):
    seconds: float = key("seconds", "sleep seconds", default=0.0)
    label: str = Field(default="")


async def _local_runs(_argument: Any) -> int:
    return _runs["count"]


async def _total_runs(runtime: Runtime) -> int:
    if runtime.workers is None:
        return _runs["count"]
    return sum(await runtime.workers.gather("test-runs"))


async def _count(request: NgRequest, ctx: NgContext) -> Reply:
    _runs["count"] += 1
    return {"runs": await _total_runs(ctx.runtime)}


async def _sleep(request: SleepRequest, ctx: NgContext) -> Reply:
    _runs["count"] += 1
    await asyncio.sleep(request.seconds)
    if request.label == "fail":
        raise NgError("asked to fail")
    return {"slept": str(request.seconds), "runs": await _total_runs(ctx.runtime)}


@hookimpl
def rtpgate_ng_commands(runtime: Runtime) -> Iterable[NgCommand]:
    if runtime.workers is not None:
        runtime.workers.register("test-runs", _local_runs)
    return [NgCommand("test-count", "testcount", NgRequest, _count, counted=False),
            NgCommand("test-sleep", "testsleep", SleepRequest, _sleep, counted=False)]
