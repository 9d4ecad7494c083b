"""Test plugin: ``GET /settings`` answers the running server's settings as JSON, so tests can
see from the outside which source each value came from."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.protocol import HttpRoute, Message, Protocol, Reply
from rtpgate.runtime import Runtime


class SettingsProbe(Protocol):
    name = "settings-probe"
    http_routes = (HttpRoute("GET", "/settings"),)

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle(self, message: Message) -> Reply:
        return Reply(json.dumps(self.runtime.settings.model_dump()).encode(), "application/json")


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [SettingsProbe(runtime)]
