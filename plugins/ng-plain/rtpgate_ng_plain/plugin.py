"""Entry point of the ng-plain plugin."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import Protocol, Runtime, hookimpl

from .protocol import NgPlainProtocol


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [NgPlainProtocol(runtime.ng)]
