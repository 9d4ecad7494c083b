"""Entry point of the raw-socket transport."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.protocol import Transport
from rtpgate.runtime import Runtime

from .transport import RawSocketTransport


@hookimpl
def rtpgate_transports(runtime: Runtime) -> Iterable[Transport]:
    return [RawSocketTransport()]
