"""Entry point of the raw-socket transport."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field
from rtpgate.api import Option, Runtime, Transport, hookimpl

from .transport import RawSocketTransport


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [Option("control-tos", Annotated[int, Field(ge=0, le=255)], 0,
                   "IP TOS byte (IPv6 traffic class) of the replies on the ng and CLI sockets; "
                   "0 leaves the system's default", metavar="INT")]


@hookimpl
def rtpgate_transports(runtime: Runtime) -> Iterable[Transport]:
    return [RawSocketTransport()]
