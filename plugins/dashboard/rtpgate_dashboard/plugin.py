"""Entry point of the dashboard plugin: its options, its protocol, and the once-a-second
sampling that runs from startup to shutdown."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rtpgate.api import AccessSettings, Option, Protocol, Runtime, hookimpl

from .access import Access
from .protocol import PATH, SUBPROTOCOL, DashboardProtocol

log = logging.getLogger("rtpgate.dashboard")

#: The dashboard of each running server (one per process; keyed so tests can boot several).
_running: dict[int, DashboardProtocol] = {}


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [
        Option("dashboard", bool, False,
               "serve the live operator page GET /dashboard (and its WebSocket subprotocol "
               "dashboard.rtpgate) on the HTTP(S) listeners"),
    ]


class DashboardSettings(AccessSettings):
    dashboard: bool


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    settings = runtime.settings.view(DashboardSettings)
    if not settings.dashboard:
        return []
    dashboard = DashboardProtocol(runtime, Access(settings, PATH, SUBPROTOCOL))
    _running[id(runtime)] = dashboard
    return [dashboard]


@hookimpl
def rtpgate_startup(runtime: Runtime) -> None:
    dashboard = _running.get(id(runtime))
    if dashboard is None:
        return
    dashboard.start()
    if not dashboard.access.configured:
        log.warning("dashboard: no login configured (--http-auth-token, --http-auth-basic-file, "
                    "--https-client-ca), so it serves loopback peers only")


@hookimpl
async def rtpgate_shutdown(runtime: Runtime) -> None:
    dashboard = _running.pop(id(runtime), None)
    if dashboard is not None:
        await dashboard.stop()
