"""Test-only WebSocket protocols, loaded into the server with ``--plugin``.

``probe.echo`` echoes, except: ``bad`` is :class:`Rejected` (no reply), ``boom`` raises (no
reply), ``sleep:<ms>:...`` waits that long before echoing.  ``probe.second`` prefixes its replies
with ``second:`` so a test can tell which protocol was chosen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from rtpgate.api import Message, Protocol, Rejected, Reply, Runtime, hookimpl


class ProbeEcho(Protocol):
    name = "probe-echo"
    ws_subprotocol = "probe.echo"

    async def handle(self, message: Message) -> Reply | None:
        body = message.body
        if body == b"bad":
            raise Rejected(600, b"error\n")
        if body == b"boom":
            raise RuntimeError("probe failure")
        if body.startswith(b"sleep:"):
            await asyncio.sleep(int(body.split(b":")[1]) / 1000)
        return Reply(body, None) if body else None


class ProbeSecond(Protocol):
    name = "probe-second"
    ws_subprotocol = "probe.second"

    async def handle(self, message: Message) -> Reply:
        return Reply(b"second:" + message.transport.encode() + b":" + message.body, None)


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [ProbeEcho(), ProbeSecond()]
