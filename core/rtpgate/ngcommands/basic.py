"""ng commands that need no call state."""

from __future__ import annotations

from .command import NgCommand, NgContext, Reply
from .models import NgRequest


async def _ping(request: NgRequest, ctx: NgContext) -> Reply | None:
    return None


PING = NgCommand("ping", "ping", NgRequest, _ping, ok_result="pong")
