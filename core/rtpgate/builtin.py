"""The core's own contributions, registered like any plugin (under the name ``rtpgate``).

Core's contributions are ``tryfirst``: its options, sub-commands and ng commands come before any
plugin's, so a plugin claiming one of their names is the one reported and left out.  Its startup
(the engine starts) runs before every plugin's, its shutdown (the engine stops) after."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from . import hookimpl
from .access import ACCESS_OPTIONS, hash_password
from .boot import boot, collect_options, subcommand_parser
from .config import CORE_OPTIONS
from .docs import options_reference
from .engine.commands import COMMANDS as ENGINE_COMMANDS
from .engine.settings import ENGINE_OPTIONS
from .memory import tune_allocator
from .ngcommands.basic import PING
from .ngcommands.command import NgCommand
from .ngcommands.schema import command_schemas
from .options import Option
from .plugins import PluginHost, Subcommand
from .runtime import Runtime
from .server import Server
from .statistics import STATISTICS


@hookimpl(tryfirst=True)
def rtpgate_options() -> Iterable[Option]:
    return (*CORE_OPTIONS, *ENGINE_OPTIONS, *ACCESS_OPTIONS)


@hookimpl(tryfirst=True)
async def rtpgate_startup(runtime: Runtime) -> None:
    tune_allocator()
    # before every plugin's startup: plugins may use the engine there
    await runtime.engine.start()


@hookimpl(trylast=True)
async def rtpgate_shutdown(runtime: Runtime) -> None:
    # after every plugin's shutdown: the engine is still there during theirs
    await runtime.engine.stop()


PLUGINS_HELP = "list installed plugins and what each provides"
OPTIONS_HELP = "print the configuration reference (Markdown)"
NG_SCHEMA_HELP = "print the JSON Schema of every ng command's request"
HASH_PASSWORD_HELP = ("print a USER:HASH line for --http-auth-basic-file (the password is read "
                      "from stdin)")


def _plugins(args: list[str], host: PluginHost) -> int:
    """``rtpgate plugins [OPTIONS]``: each plugin, its version, status and what it provides."""
    _, rest = subcommand_parser("plugins", PLUGINS_HELP).parse_known_args(args)
    runtime, _ = boot(rest, host=host)
    Server(runtime).assemble()
    for opt in runtime.options:
        owner = next((r for r in host.records.values() if r.distribution == opt.owner), None)
        if owner is not None and owner.name != "rtpgate":
            owner.provides.append(f"option --{opt.name}")
    for record in sorted(host.records.values(), key=lambda r: (r.name != "rtpgate", r.name)):
        status = record.status + (f": {record.error}" if record.error else "")
        print(f"{record.distribution} {record.version} ({record.name}) [{status}]")
        for line in record.provides:
            print(f"    {line}")
    return 0


def _ng_schema(args: list[str], host: PluginHost) -> int:
    """``rtpgate ng-schema``: JSON Schema of every ng command's request, as installed."""
    _, rest = subcommand_parser("ng-schema", NG_SCHEMA_HELP).parse_known_args(args)
    runtime, _ = boot(rest, host=host)
    json.dump(command_schemas(runtime.ng), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    return 0


def _options(args: list[str], host: PluginHost) -> int:
    """``rtpgate options``: the configuration reference (Markdown) of what is installed."""
    subcommand_parser("options", OPTIONS_HELP).parse_known_args(args)
    sys.stdout.write(options_reference(collect_options(host)))
    return 0


def _hash_password(args: list[str], host: PluginHost) -> int:
    """``rtpgate hash-password [USER]``: a password from stdin (or asked for on a terminal)
    to a line of ``--http-auth-basic-file``."""
    import getpass

    parser = subcommand_parser("hash-password", HASH_PASSWORD_HELP)
    parser.usage = "rtpgate hash-password [-h] [USER]"
    parser.add_argument("user", nargs="?", default="user")
    user = parser.parse_args(args).user
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {user}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("rtpgate hash-password: empty password", file=sys.stderr)
        return 2
    print(f"{user}:{hash_password(password)}")
    return 0


@hookimpl(tryfirst=True)
def rtpgate_subcommands() -> Iterable[Subcommand]:
    return [Subcommand("plugins", PLUGINS_HELP, _plugins),
            Subcommand("options", OPTIONS_HELP, _options),
            Subcommand("ng-schema", NG_SCHEMA_HELP, _ng_schema),
            Subcommand("hash-password", HASH_PASSWORD_HELP, _hash_password)]


@hookimpl(tryfirst=True)
def rtpgate_ng_commands(runtime: Runtime) -> Iterable[NgCommand]:
    return [PING, STATISTICS, *ENGINE_COMMANDS]
