"""Helpers of the cli plugin's tests: a runtime with core and the cli plugin (plus, where a test
asks, the engine's options and a stand-in engine), and a runner of one command line through the
CLI protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import rtpgate_cli.plugin
from rtpgate.api import Message, Option, Runtime, hookimpl
from rtpgate.testing import get_protocol
from rtpgate.testing import make_runtime as core_runtime
from rtpgate_cli.protocol import CliProtocol


class ControlTos:
    """Declares ``control-tos``, which no rtpgate plugin declares yet, so ``set controltos``
    has a field to change."""

    @hookimpl
    def rtpgate_options(self) -> list[Option]:
        return [Option("control-tos", int, 0, "control tos")]


@dataclass(eq=False)
class FakeCall:
    """Shaped like :class:`rtpgate.engine.model.Call` where the CLI reads it."""

    call_id: str
    created: float = 1700000000.0
    proxy: str = "127.0.0.1:5060"
    deletion_mark: bool = False
    foreign: bool = False
    recording: Any = None
    last_signal: float = 1700000001.0
    debug: bool = False
    monologues: list[Any] = field(default_factory=list)


@dataclass
class FakeEngine:
    """Just what the CLI asks of ``runtime.engine``."""

    by_id: dict[str, FakeCall] = field(default_factory=dict)
    terminated: list[tuple[str, str]] = field(default_factory=list)

    def calls(self) -> list[FakeCall]:
        return list(self.by_id.values())

    def call(self, call_id: str) -> FakeCall | None:
        return self.by_id.get(call_id)

    async def terminate(self, call: FakeCall, reason: str) -> None:
        self.terminated.append((call.call_id, reason))
        del self.by_id[call.call_id]

    def statistics(self) -> Any:
        foreign = sum(1 for call in self.by_id.values() if call.foreign)
        pool = SimpleNamespace(name="default", address="127.0.0.1", min=30000, max=40000,
                               used=4, free=9997, last=30006)
        return SimpleNamespace(own=len(self.by_id) - foreign, foreign=foreign,
                               media_streams=0, interfaces=[pool])

    def set_ownership(self, foreign: bool) -> None:
        for call in self.by_id.values():
            call.foreign = foreign


def stream(local: str, port: int, remote: str, rport: int, rtcp: bool = False) -> Any:
    counters = SimpleNamespace(packets=10, bytes=1720, errors=0)
    selected = SimpleNamespace(local=SimpleNamespace(address=local), port=port)
    return SimpleNamespace(selected=selected, endpoint=SimpleNamespace(address=remote, port=rport),
                           is_rtcp=rtcp, flags=2 if rtcp else 1, stats_in=counters,
                           last_packet=1700000002.5)


def monologue(tag: str, streams: list[Any], created: float) -> Any:
    media = SimpleNamespace(index=1, type="audio", protocol="RTP/AVP", payload_types=(0, 101),
                            encodings={0: "PCMU/8000", 101: "telephone-event/8000"},
                            streams=streams)
    return SimpleNamespace(tag=tag, label=None, via_branch=None, created=created, aliases=[],
                           peers=[], medias=[media], media=lambda index: media)


def make_runtime(*plugins: object, argv: tuple[str, ...] = ()) -> Runtime:
    """Core, the cli plugin and ``plugins``, whatever else is installed."""
    return core_runtime(rtpgate_cli.plugin, *plugins, args=argv)


def protocol_of(runtime: Runtime) -> CliProtocol:
    protocol = get_protocol(runtime, "cli")
    assert isinstance(protocol, CliProtocol)
    return protocol


Run = Callable[..., str]


def runner(runtime: Runtime) -> Run:
    protocol = protocol_of(runtime)

    def run(line: str | bytes, transport: str = "tcp") -> str:
        body = line if isinstance(line, bytes) else line.encode()
        reply = asyncio.run(protocol.handle(Message(body, transport)))
        return reply.body.decode("utf-8", "surrogateescape")

    return run
