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
from .config import ConfigError, CoreSettings, UsageError
from .daemon import StartupReport, detach
from .logsetup import configure as configure_logging
from .server import Server, new_event_loop, serve
from .workers.supervisor import Supervisor, worker_count

log = logging.getLogger("rtpgate")


def run_server(argv: Sequence[str]) -> int:
    runtime, ignored = boot(argv)
    settings = runtime.settings.view(CoreSettings)
    warning = configure_logging(
        settings.log_level, settings.log_stderr, settings.log_facility, settings.log_format,
        settings.log_file, settings.syslog_socket, detaching=not settings.foreground)
    if warning:  # still on the terminal: without --foreground, stderr goes away below
        log.warning("%s", warning)
    # a worker's supervisor has said these once for every worker
    for record in runtime.plugins.failures if runtime.workers is None else ():
        log.error("plugin %s (%s %s) not loaded: %s", record.name, record.distribution,
                  record.version, record.error)
    if ignored and runtime.workers is None:
        log.warning("ignoring rtpengine options that rtpgate does not implement: %s",
                    ", ".join(ignored))
    server = Server(runtime)
    server.assemble()
    count = worker_count(settings.num_threads)
    # Without --foreground the parent waits here until the detached child reports.
    report = StartupReport(None) if settings.foreground else detach()
    pidfile = settings.pidfile
    try:
        if pidfile:
            _write_pidfile(pidfile)
        if runtime.workers is None and count > 1:
            return Supervisor(list(argv), runtime, count).run(report.ready)
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve(server, on_ready=report.ready))
    except (OSError, ConfigError) as exc:
        message = describe_error(exc)
        log.critical("cannot start: %s", message)
        _remove(pidfile)  # before the parent is told, so it never sees a stale pid file
        if runtime.workers is not None:  # a worker: its supervisor reports it
            runtime.workers.spec.report_failure(message)
        report.failed(message)
        return 1
    except BaseException as exc:
        _remove(pidfile)
        report.failed(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        _remove(pidfile)
    return 0


def describe_error(exc: BaseException) -> str:
    """An error without Python's ``[Errno N]`` prefix: ``Permission denied: '/run/x.pid'``."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}" if exc.filename else exc.strerror
    return str(exc)


def _write_pidfile(path: str) -> None:
    try:
        with open(path, "w", encoding="ascii") as fh:
            fh.write(f"{os.getpid()}\n")
    except OSError as exc:
        raise ConfigError(f"--pidfile: cannot write {path}: {exc.strerror}") from None


def _remove(pidfile: str | None) -> None:
    if pidfile:
        with contextlib.suppress(OSError):
            os.unlink(pidfile)


def run_subcommand(argv: Sequence[str]) -> int:
    name, rest = argv[0], list(argv[1:])
    host = load_plugins(rest, os.environ)
    commands = {cmd.name: cmd for _, cmd in host.subcommands()}
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
    except UsageError:
        return 2  # argparse has printed the usage and the problem
    except ConfigError as exc:
        print(f"rtpgate: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `rtpgate ng-schema | head`: the reader left; stop quietly, and keep Python's exit
        # flush from failing on the same pipe again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
