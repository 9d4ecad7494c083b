"""Entry point of the ng plugin: the ng listener options and the protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import Field
from rtpgate.api import (
    ListenAddress,
    Option,
    Protocol,
    Runtime,
    SettingsView,
    allow_option,
    hookimpl,
)

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
        Option("ng-cookie-cache-entries", Annotated[int, Field(ge=2)], 100_000,
               "most replies the ng cookie cache keeps (both generations); under a flood of "
               "unique cookies replies are kept for less than --ng-cookie-lifetime instead",
               metavar="INT"),
        Option("ng-cookie-cache-bytes", Annotated[int, Field(ge=1024)], 64 * 1024 * 1024,
               "most bytes the ng cookie cache keeps (cookies, replies and per-entry overhead)",
               metavar="BYTES"),
        Option("dtmf-log-ng-tcp", bool, False,
               "send each DTMF event (as --dtmf-log-dest would) to every client connected "
               "to --listen-tcp-ng, as an ng 'onDTMF' notification"),
        Option("ng-cookie-lifetime", Annotated[float, Field(gt=0)], 30.0,
               "seconds between cookie-cache generation swaps: a reply is replayed for a "
               "repeated cookie for this long to twice this long (rtpengine: 30)",
               metavar="SECS"),
    ]


class NgSettings(SettingsView):
    """The options this plugin reads: the cookie cache's, and the DTMF events over TCP ng."""

    ng_cookie_lifetime: float
    ng_cookie_cache_entries: int
    ng_cookie_cache_bytes: int
    dtmf_log_ng_tcp: bool


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    settings = runtime.settings.view(NgSettings)
    cache = CookieCache(lifetime=settings.ng_cookie_lifetime,
                        max_entries=settings.ng_cookie_cache_entries,
                        max_bytes=settings.ng_cookie_cache_bytes,
                        stats=runtime.stats.cookie_cache)
    runtime.ng.reply_cache = cache
    protocol = NgProtocol(runtime.ng, cache)
    if settings.dtmf_log_ng_tcp:
        runtime.engine.dtmf_log.listeners.append(_dtmf_notifier(runtime, protocol))
    return [protocol]


#: The name under which every worker sends a DTMF event to its own TCP clients.
DTMF_NOTIFY = "ng.dtmf-notify"


def _dtmf_notifier(runtime: Runtime, protocol: NgProtocol
                   ) -> Callable[[dict[str, object]], None]:
    """``--dtmf-log-ng-tcp``'s listener: with several workers the call's owner hears the event
    and every worker (itself first) sends it to the TCP clients connected to it, so each
    client gets each event once wherever its connection landed, as with one process."""
    workers = runtime.workers
    if workers is None:
        return protocol.notify_dtmf

    async def send_here(event: Any) -> None:
        protocol.notify_dtmf(event)

    workers.register(DTMF_NOTIFY, send_here)
    pending: set[asyncio.Task[list[Any]]] = set()

    def notify(event: dict[str, object]) -> None:
        task = asyncio.get_running_loop().create_task(workers.gather(DTMF_NOTIFY, event))
        pending.add(task)
        task.add_done_callback(pending.discard)
    return notify
