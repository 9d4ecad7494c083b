"""Entry point of the ng-plain plugin."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.protocol import Protocol
from rtpgate.runtime import Runtime

from .protocol import NgPlainProtocol


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [NgPlainProtocol(runtime.ng)]
