"""Entry point of the HTTP transport: its options and its transport."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field
from rtpgate.api import ListenAddress, Option, Runtime, Transport, hookimpl

from .transport import HttpTransport


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [
        Option("listen-http", list[ListenAddress], [],
               "HTTP (and WS) listener [IP|HOSTNAME:]PORT; repeat for more", metavar="ADDR",
               listener=True, listener_default=("127.0.0.1:8080",)),
        Option("listen-https", list[ListenAddress], [],
               "HTTPS (and WSS) listener [IP|HOSTNAME:]PORT; repeat for more", metavar="ADDR",
               listener=True),
        Option("https-cert", str | None, None, "certificate (PEM) for HTTPS and WSS",
               metavar="FILE"),
        Option("https-key", str | None, None,
               "private key (PEM) for --https-cert; defaults to the certificate file",
               metavar="FILE"),
        Option("http-idle-timeout", Annotated[int, Field(ge=0)], 0,
               "seconds an idle keep-alive HTTP connection stays open (0: the default, 5)",
               metavar="SECS"),
        Option("http-head-timeout", Annotated[float, Field(gt=0)], 10.0,
               "seconds from the first byte of a request until its request line and headers "
               "must be complete; later: 408 and the connection is closed (slow-header "
               "clients)", metavar="SECS"),
        Option("http-max-body", Annotated[int, Field(ge=1)], 1048576,
               "largest HTTP request body accepted; larger ones get 413 and the connection "
               "is closed", metavar="BYTES"),
    ]


@hookimpl
def rtpgate_transports(runtime: Runtime) -> Iterable[Transport]:
    return [HttpTransport()]
