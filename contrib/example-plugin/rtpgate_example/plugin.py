"""The entry point named in pyproject.toml: rtpgate calls these hook implementations."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import Option, Protocol, Runtime, SettingsView, hookimpl

from .protocols import HelloProtocol, ReverseProtocol


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    # --example-greeting on the command line, example-greeting in the INI file,
    # RTPGATE_EXAMPLE_GREETING in the environment.
    return [Option("example-greeting", str, "hello from rtpgate-example",
                   "what GET /hello answers", metavar="TEXT")]


class ExampleSettings(SettingsView):
    """The options this plugin reads, typed (runtime.settings.view(ExampleSettings))."""

    example_greeting: str


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    settings = runtime.settings.view(ExampleSettings)
    return [HelloProtocol(settings.example_greeting), ReverseProtocol()]
