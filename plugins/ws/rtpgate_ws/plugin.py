"""Entry point of the WebSocket transport: its option and its transport."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field
from rtpgate.api import Option, Runtime, Transport, hookimpl

from .transport import WsTransport


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [Option("ws-max-message-size", Annotated[int, Field(ge=1)], 16 * 1024 * 1024,
                   "largest WebSocket message (after reassembling fragments); a larger one "
                   "closes that connection with code 1009 (rtpengine has no limit; 16 MiB "
                   "passes Autobahn case 9.2.6)", metavar="BYTES")]


@hookimpl
def rtpgate_transports(runtime: Runtime) -> Iterable[Transport]:
    return [WsTransport()]
