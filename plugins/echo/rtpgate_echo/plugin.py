"""Entry point of the echo plugin."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import Protocol, Runtime, hookimpl

from .protocols import EchoProtocol, PingProtocol


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [PingProtocol(), EchoProtocol()]
