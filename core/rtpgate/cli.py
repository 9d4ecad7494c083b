"""The ``rtpgate`` command: rtpengine's options start the server; words start sub-commands.

``rtpgate [OPTIONS]`` runs the server.  ``rtpgate NAME [ARGS]`` runs a sub-command contributed
through the ``rtpgate_subcommands`` hook (``plugins`` and ``options`` come from core).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from .boot import boot, load_plugins
from .config import ConfigError
from .logsetup import configure as configure_logging
from .server import Server, new_event_loop, serve

log = logging.getLogger("rtpgate")


def daemonize() -> None:
    """Fork into the background like rtpengine without ``--foreground``."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def run_server(argv: Sequence[str]) -> int:
    runtime, ignored = boot(argv)
    settings = runtime.settings
    configure_logging(settings.log_level, settings.log_stderr,  # type: ignore[attr-defined]
                      settings.log_facility)  # type: ignore[attr-defined]
    for record in runtime.plugins.failures:
        log.error("plugin %s (%s %s) not loaded: %s", record.name, record.distribution,
                  record.version, record.error)
    if ignored:
        log.warning("ignoring rtpengine options that rtpgate does not implement: %s",
                    ", ".join(ignored))
    server = Server(runtime)
    server.assemble()
    if not settings.foreground:  # type: ignore[attr-defined]
        daemonize()
    pidfile = settings.pidfile  # type: ignore[attr-defined]
    if pidfile:
        with open(pidfile, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve(server))
    except OSError as exc:
        log.critical("cannot start: %s", exc)
        return 1
    finally:
        if pidfile:
            with contextlib.suppress(OSError):
                os.unlink(pidfile)
    return 0


def run_subcommand(argv: Sequence[str]) -> int:
    name, rest = argv[0], list(argv[1:])
    host = load_plugins(rest, os.environ)
    commands = {cmd.name: cmd for _, cmd in host.collect("rtpgate_subcommands")}
    if name not in commands:
        available = ", ".join(sorted(commands))
        print(f"rtpgate: unknown sub-command {name!r} (available: {available}; "
              f"options start the server, see rtpgate --help)", file=sys.stderr)
        return 2
    return commands[name].run(rest, host)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and not args[0].startswith("-"):
            return run_subcommand(args)
        return run_server(args)
    except ConfigError as exc:
        print(f"rtpgate: {exc}", file=sys.stderr)
        return 2
