"""Entry point of the echo plugin."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.protocol import Protocol
from rtpgate.runtime import Runtime

from .protocols import EchoProtocol, PingProtocol


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [PingProtocol(), EchoProtocol()]
