"""The hook the cli plugin owns (added with ``rtpgate_addhooks``), and its typed caller.

Implement it in another plugin with ``@hookimpl(optionalhook=True)``, so that plugin loads
whether or not rtpgate-cli is installed.
"""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import Runtime, hookspec

from .tree import CliCommand


@hookspec
def rtpgate_cli_commands(runtime: Runtime) -> Iterable[CliCommand]:
    """Contribute commands to the CLI (``rtpengine-ctl``, ``GET /cli/...``,
    ``cli.rtpengine.com``, ng ``cli``).

    Return :class:`rtpgate_cli.tree.CliCommand` values: ``path`` is the words that reach the
    command (``("list", "mystat")`` adds a ``list`` sub-command, ``("mycmd",)`` a top-level one,
    and a path under a new group needs the group first), ``handler(ctx, args)`` writes its
    output with ``ctx.write(text)`` (it may be a coroutine function; ``args`` is the rest of the
    line and ``ctx.runtime`` the runtime), ``params`` and ``help`` are what ``help`` and
    ``usage`` print.  A command without a handler is a group.  Commands are added after
    rtpengine's own at their level, in the order returned; a path that is taken or whose parent
    does not exist is reported and left out.  Called once, when the CLI is built; must not do
    I/O.
    """


def cli_commands(runtime: Runtime) -> list[tuple[str, CliCommand]]:
    """Every plugin's CLI commands, as ``(plugin name, command)`` in hook order."""
    return runtime.plugins.collect("rtpgate_cli_commands", runtime=runtime)
