"""Loading plugins and settings into a :class:`~rtpgate.runtime.Runtime` (no I/O, no loop)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence

from . import __version__, drain
from .config import ConfigError, load_settings, prescan
from .engine import Engine
from .engine.interfaces import InterfaceError
from .engine.settings import EngineSettings
from .ngcommands.dispatch import NgDispatcher
from .options import Option
from .plugins import PluginHost
from .runtime import Runtime
from .workers import load, totals
from .workers.routing import Workers
from .workers.shard import WorkerSpec


def core_host(allow: Sequence[str] = (), deny: Sequence[str] = ()) -> PluginHost:
    """A plugin host with only core registered."""
    from . import builtin  # builtin's sub-commands use this module

    host = PluginHost(allow=allow, deny=deny)
    host.register(builtin, "rtpgate", "rtpgate", __version__)
    return host


def load_plugins(argv: Sequence[str], env: Mapping[str, str]) -> PluginHost:
    """Register core, then every allowed entry point of the ``rtpgate`` group."""
    early = prescan(argv, env)
    host = core_host(allow=early["plugins_allow"], deny=early["plugins_deny"])
    host.load_entry_points()
    for module in early["plugin"]:
        host.load_module(module)
    for kind, names in host.unknown_names().items():
        if names:
            raise ConfigError(f"--plugins-{kind}: no installed plugin is named "
                              f"{', '.join(map(repr, names))} (installed: "
                              f"{', '.join(sorted(host.installed))})")
    return host


def subcommands_epilog(host: PluginHost) -> str:
    """The end of ``rtpgate --help``: every installed sub-command."""
    commands = sorted((cmd.name, cmd.help) for _, cmd in host.subcommands())
    width = max((len(name) for name, _ in commands), default=0)
    lines = [f"  {name:<{width}}  {text}" for name, text in commands]
    return ("sub-commands (rtpgate NAME --help describes each):\n" + "\n".join(lines) +
            "\n\nman 8 rtpgate; rtpgate options prints the configuration reference.")


def subcommand_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The parser of a core sub-command: its own ``--help``; every other argument is a server
    option (``--config-file``, ``--plugins-deny``, ...), read as the server reads it."""
    return argparse.ArgumentParser(
        prog=f"rtpgate {name}", description=description, allow_abbrev=False,
        usage=f"rtpgate {name} [-h] [SERVER OPTIONS]",
        epilog="Server options (--config-file, --plugins-allow, --plugins-deny, --plugin, ...) "
               "are read as the server reads them: see rtpgate --help.")


def collect_options(host: PluginHost) -> list[Option]:
    options = []
    for plugin_name, opt in host.options():
        record = host.records.get(plugin_name)
        options.append(dataclasses.replace(opt, owner=record.distribution if record else
                                           plugin_name))
    return options


def boot(argv: Sequence[str], env: Mapping[str, str] | None = None,
         host: PluginHost | None = None) -> tuple[Runtime, list[str]]:
    """Load plugins and settings.  Returns the runtime and the ignored rtpengine options."""
    env = os.environ if env is None else env
    host = host or load_plugins(argv, env)
    options = collect_options(host)
    loaded = load_settings(options, argv, env, epilog=subcommands_epilog(host))
    spec = WorkerSpec.from_env(env)
    if spec is not None:  # one of several workers: its share of the settings
        spec.apply(loaded.settings)
    runtime = Runtime(settings=loaded.settings, plugins=host, options=options)
    if spec is not None:
        runtime.workers = Workers(spec)
    try:
        runtime.engine = Engine(runtime.settings.view(EngineSettings), runtime.stats,
                                host.engine_hooks(runtime))
    except InterfaceError as exc:
        source = loaded.sources.get("interface", "default")
        raise ConfigError(f"--interface ({source}): {exc}") from None
    runtime.ng = NgDispatcher(runtime, host.ng_commands(runtime))
    if runtime.workers is not None:
        runtime.engine.owns = runtime.workers.owns
        if spec is not None and spec.instance_id:
            runtime.engine.instance_id = spec.instance_id
        runtime.workers.dispatcher = runtime.ng
        totals.register(runtime)
        load.register(runtime)
        drain.register(runtime)
    return runtime, loaded.ignored
