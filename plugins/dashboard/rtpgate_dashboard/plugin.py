"""Entry point of the dashboard plugin: its options, its protocol, and the once-a-second
sampling that runs from startup to shutdown."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

from rtpgate import hookimpl
from rtpgate.options import Option
from rtpgate.protocol import Protocol
from rtpgate.runtime import Runtime

from .access import Access
from .protocol import DashboardProtocol

log = logging.getLogger("rtpgate.dashboard")

#: The dashboard of each running server (one per process; keyed so tests can boot several).
_running: dict[int, DashboardProtocol] = {}


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [
        Option("dashboard", bool, False,
               "serve the live operator page GET /dashboard (and its WebSocket subprotocol "
               "dashboard.rtpgate) on the HTTP(S) listeners"),
        Option("dashboard-token", str | None, None,
               "the dashboard's login: 'Authorization: Bearer TOKEN', or the password of HTTP "
               "basic (any user name) over HTTPS", metavar="TOKEN"),
        Option("dashboard-login", Literal["auto", "always"], "auto",
               "when the dashboard asks for a login: 'auto' on connections that did not arrive "
               "on a loopback address, 'always' on every connection", metavar="WHEN"),
    ]


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    settings = runtime.settings
    if not settings.dashboard:  # type: ignore[attr-defined]
        return []
    dashboard = DashboardProtocol(runtime, Access(settings.dashboard_login,  # type: ignore[attr-defined]
                                                  settings.dashboard_token))  # type: ignore[attr-defined]
    _running[id(runtime)] = dashboard
    return [dashboard]


@hookimpl
def rtpgate_startup(runtime: Runtime) -> None:
    dashboard = _running.get(id(runtime))
    if dashboard is None:
        return
    dashboard.start()
    if not runtime.settings.dashboard_token:  # type: ignore[attr-defined]
        log.warning("dashboard: no --dashboard-token, so it is refused on every connection that "
                    "needs a login (%s)", "all of them" if dashboard.access.mode == "always"
                    else "those not on a loopback address")


@hookimpl
async def rtpgate_shutdown(runtime: Runtime) -> None:
    dashboard = _running.pop(id(runtime), None)
    if dashboard is not None:
        await dashboard.stop()
