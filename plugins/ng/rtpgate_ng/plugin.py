"""Entry point of the ng plugin: the ng listener options and the protocol."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field
from rtpgate import hookimpl
from rtpgate.access import allow_option
from rtpgate.netaddr import ListenAddress
from rtpgate.options import Option
from rtpgate.protocol import Protocol
from rtpgate.runtime import Runtime

from .cookie_cache import CookieCache
from .protocol import NgProtocol


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [
        Option("listen-ng", list[ListenAddress], [],
               "UDP address for ng control messages [IP|HOSTNAME:]PORT; repeat for more",
               short="-n", metavar="ADDR", listener=True, listener_default=("127.0.0.1:2223",)),
        Option("listen-tcp-ng", list[ListenAddress], [],
               "TCP address for ng control messages [IP|HOSTNAME:]PORT; repeat for more",
               short="-N", metavar="ADDR", listener=True),
        allow_option("listen_ng"),
        allow_option("listen_tcp_ng"),
        Option("ng-cookie-lifetime", Annotated[float, Field(gt=0)], 30.0,
               "seconds between cookie-cache generation swaps: a reply is replayed for a "
               "repeated cookie for this long to twice this long (rtpengine: 30)",
               metavar="SECS"),
    ]


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    lifetime = runtime.settings.ng_cookie_lifetime  # type: ignore[attr-defined]
    return [NgProtocol(runtime.ng, CookieCache(lifetime=lifetime,
                                                stats=runtime.stats.cookie_cache))]
