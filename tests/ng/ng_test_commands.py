"""A third-party-style plugin adding ng commands through ``rtpgate_ng_commands`` (loaded by the
tests with ``--plugin ng_test_commands``): ``test-count`` returns how often it ran, ``test-sleep``
waits before answering, so cookie-cache replay and in-flight duplicates can be observed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from pydantic import Field
from rtpgate import hookimpl
from rtpgate.ngcommands.command import NgCommand, NgContext, NgError, Reply
from rtpgate.ngcommands.models import NgRequest, key
from rtpgate.runtime import Runtime

_runs = {"count": 0}


class SleepRequest(NgRequest):
    seconds: float = key("seconds", "sleep seconds", default=0.0)
    label: str = Field(default="")


async def _count(request: NgRequest, ctx: NgContext) -> Reply:
    _runs["count"] += 1
    return {"runs": _runs["count"]}


async def _sleep(request: SleepRequest, ctx: NgContext) -> Reply:
    _runs["count"] += 1
    await asyncio.sleep(request.seconds)
    if request.label == "fail":
        raise NgError("asked to fail")
    return {"slept": str(request.seconds), "runs": _runs["count"]}


@hookimpl
def rtpgate_ng_commands(runtime: Runtime) -> Iterable[NgCommand]:
    return [NgCommand("test-count", "testcount", NgRequest, _count, counted=False),
            NgCommand("test-sleep", "testsleep", SleepRequest, _sleep, counted=False)]
