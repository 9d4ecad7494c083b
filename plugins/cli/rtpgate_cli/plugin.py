"""Entry point of the cli plugin: ``--listen-cli``, the CLI protocol, the ng ``cli`` command and
``rtpgate ctl``."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import (
    ListenAddress,
    NgCommand,
    Option,
    PluginHost,
    Protocol,
    Runtime,
    Subcommand,
    allow_option,
    hookimpl,
)

from . import ctl, hookspecs
from .ng import CLI
from .protocol import CliProtocol
from .service import CliService


@hookimpl
def rtpgate_addhooks(host: PluginHost) -> None:
    host.add_hookspecs(hookspecs)


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [Option("listen-cli", list[ListenAddress], [],
                   "TCP address of the CLI (rtpengine-ctl) [IP|HOSTNAME:]PORT; repeat for more",
                   short="-c", metavar="ADDR", listener=True,
                   listener_default=("127.0.0.1:9900",)),
            allow_option("listen_cli")]


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [CliProtocol(CliService.of(runtime))]


@hookimpl
def rtpgate_ng_commands(runtime: Runtime) -> Iterable[NgCommand]:
    return [CLI]


@hookimpl
def rtpgate_subcommands() -> Iterable[Subcommand]:
    return [Subcommand("ctl", "send a command to the CLI port, like rtpengine-ctl", ctl.run)]
