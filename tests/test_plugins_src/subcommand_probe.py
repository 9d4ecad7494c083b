"""Test plugin contributing the ``rtpgate hello`` sub-command."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate import hookimpl
from rtpgate.api import Subcommand
from rtpgate.plugins import PluginHost


def _hello(args: list[str], host: PluginHost) -> int:
    print("hello", *args, f"({len(host.records)} plugins)")
    return 3 if "fail" in args else 0


@hookimpl
def rtpgate_subcommands() -> Iterable[Subcommand]:
    return [Subcommand("hello", "say hello", _hello)]
