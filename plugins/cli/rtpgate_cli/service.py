"""The CLI of one running server: the command tree (built-in commands plus what plugins add
through ``rtpgate_cli_commands``) and the log levels it manages.  Every transport (HTTP,
WebSocket, TCP, the ng ``cli`` command) runs its commands through :meth:`CliService.run`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rtpgate.api import clip

from . import workers
from .commands import BUILTIN
from .hookspecs import cli_commands
from .tree import CliCommand, CliContext, CommandTree, TreeError
from .values import LogLevels

if TYPE_CHECKING:
    from rtpgate.api import Runtime

log = logging.getLogger("rtpgate.cli")

#: Services by runtime, so the protocol and the ng command of one server share one.
_services: dict[int, tuple[Runtime, CliService]] = {}


class CliService:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tree = CommandTree(BUILTIN)
        self.log_levels = LogLevels.from_runtime(runtime)
        for plugin_name, command in cli_commands(runtime):
            self._add(plugin_name, command)
        if runtime.workers is not None:
            workers.register(runtime.workers, self._run_here)

    def _add(self, plugin_name: str, command: object) -> None:
        """A contributed command; one that cannot be placed is reported and left out."""
        host = self.runtime.plugins
        try:
            if not isinstance(command, CliCommand):
                raise TreeError(f"{command!r} is not a CliCommand")
            self.tree.add(command)
        except TreeError as exc:
            log.error("plugin %s: %s; left out", plugin_name, exc)
            host.describe(plugin_name, f"conflict: {exc}")
            return
        host.describe(plugin_name, f"CLI command: {' '.join(command.path)}")

    @classmethod
    def of(cls, runtime: Runtime) -> CliService:
        """The service of ``runtime``, made on first use."""
        entry = _services.get(id(runtime))
        if entry is None or entry[0] is not runtime:
            entry = _services[id(runtime)] = (runtime, cls(runtime))
        return entry[1]

    async def run(self, line: str) -> str:
        """Run one command line; returns its whole output.  Trailing line ends are dropped
        (a ``POST /cli`` body or a WebSocket message may end in one)."""
        line = line.rstrip("\r\n")
        if self.runtime.workers is not None:
            return await workers.run(self.runtime.workers, line, self._run_here)
        return await self._run_here(line)

    async def _run_here(self, line: str) -> str:
        log.info("Got CLI command: %s", clip(line))  # never a client's unbounded bytes
        ctx = CliContext(self.runtime, self.tree, self.log_levels)
        await self.tree.run(line, ctx)
        return ctx.output
