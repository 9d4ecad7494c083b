"""Helpers of the cli plugin's tests: a runtime with core and the cli plugin (the real engine),
calls made in it with real ng commands, and a runner of one command line through the CLI
protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import rtpgate_cli.plugin
from rtpgate.api import Call, Message, Option, Runtime, hookimpl
from rtpgate.testing import get_protocol
from rtpgate.testing import make_runtime as core_runtime
from rtpgate_cli.protocol import CliProtocol


class ControlTos:
    """Declares ``control-tos``, which no rtpgate plugin declares yet, so ``set controltos``
    has a field to change."""

    @hookimpl
    def rtpgate_options(self) -> list[Option]:
        return [Option("control-tos", int, 0, "control tos")]


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0\r\n")
PROXY = ("127.0.0.1", 5060)


def ng(runtime: Runtime, loop: asyncio.AbstractEventLoop, **request: object) -> dict[str, Any]:
    """One ng request (JSON) through the runtime's dispatcher, as a transport hands it over."""
    reply = loop.run_until_complete(runtime.ng.process(json.dumps(request).encode(), PROXY,
                                                       "udp"))
    decoded: dict[str, Any] = json.loads(reply)
    assert decoded["result"] == "ok", decoded
    return decoded


def make_calls(runtime: Runtime, loop: asyncio.AbstractEventLoop) -> dict[str, Call]:
    """Two calls in the real engine, made with ng commands: ``a-call``, offered by ``ft1``
    from 127.0.0.1:6000, and ``b-call``, recording, deleted with a delay (so still listed,
    deletion-marked) and another node's (foreign).  ``loop`` is the one the CLI runs on too:
    the relay watches the calls' sockets on it."""
    for call_id in ("a-call", "b-call"):
        ng(runtime, loop, command="offer", **{"call-id": call_id, "from-tag": "ft1", "sdp": SDP})
    ng(runtime, loop, command="start recording", **{"call-id": "b-call"})
    ng(runtime, loop, command="delete", **{"call-id": "b-call", "delete-delay": 30})
    runtime.engine.by_id["b-call"].foreign = True
    return runtime.engine.by_id


def make_runtime(*plugins: object, argv: tuple[str, ...] = ()) -> Runtime:
    """Core, the cli plugin and ``plugins``, whatever else is installed."""
    return core_runtime(rtpgate_cli.plugin, *plugins, args=argv)


def protocol_of(runtime: Runtime) -> CliProtocol:
    protocol = get_protocol(runtime, "cli")
    assert isinstance(protocol, CliProtocol)
    return protocol


Run = Callable[..., str]


def runner(runtime: Runtime, loop: asyncio.AbstractEventLoop | None = None) -> Run:
    """Runs one command line on ``loop`` (by default a new loop each time)."""
    protocol = protocol_of(runtime)

    def run(line: str | bytes, transport: str = "tcp") -> str:
        body = line if isinstance(line, bytes) else line.encode()
        handled = protocol.handle(Message(body, transport))
        reply = loop.run_until_complete(handled) if loop else asyncio.run(handled)
        return reply.body.decode("utf-8", "surrogateescape")

    return run
