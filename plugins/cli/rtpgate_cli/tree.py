"""The CLI command tree as data, and the parser that walks it.

A command is a :class:`CliCommand`: the words that reach it (``("list", "numsessions")``), a
handler, and the ``params``/``help`` texts that ``help`` and ``usage`` print.  A command without
a handler is a *group* (``list``, ``set``, ``params``): the next word picks one of its
sub-commands.  The tree is assembled from the built-in commands and whatever plugins contribute
through the ``rtpgate_cli_commands`` hook.

Parsing follows rtpengine's newest ``cli_handler_do``: a level takes the text up to the next
single space as its word, looks it up by exact, case-sensitive match and hands the rest to the
command.  What rtpengine 10.5 also accepted keeps working (see ``docs/cli.md``): when the word is
not a command, a command name that *prefixes* the text is taken and the one byte after it is
skipped, so ``list+totals`` (a literal ``+`` on WebSocket or the TCP port), ``list numsessions\\n``
and even ``listXtimeout`` select the same commands as they did there.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtpgate.api import Runtime

    from .callviews import CallView, MonologueView
    from .values import LogLevels

#: A command's handler: gets the context and the text after the command's word.  It writes its
#: output with :meth:`CliContext.write`; it may be a coroutine function.
Handler = Callable[["CliContext", str], Awaitable[None] | None]

HELP_HEADER = "Available sub-commands at this level:\n"
MORE_PARAMETERS = "More parameters required.\n"
#: Column where the help text starts in ``help`` and ``usage`` lines.
HELP_COLUMN = 50


@dataclass(frozen=True)
class CliCommand:
    """One command of the CLI tree.

    ``path`` is every word from the top level to this command.  ``handler`` ``None`` makes a
    group, whose sub-commands are the commands whose path extends this one; a group prints
    ``More parameters required.`` when nothing follows it.  ``same_as`` makes a group share the
    sub-commands of another group (rtpengine's ``get`` is ``list``).  ``params`` and ``help``
    are what ``help`` and ``usage`` show; a group's params default to ``<option>``, as
    rtpengine's.  ``params=""`` differs from ``None``: it prints the command followed by a space,
    which rtpengine does for ``numsessions``.
    """

    path: tuple[str, ...]
    handler: Handler | None = None
    params: str | None = None
    help: str | None = None
    same_as: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def is_group(self) -> bool:
        return self.handler is None


@dataclass
class Node:
    """A command placed in the tree, with the sub-commands under it (in the order added)."""

    command: CliCommand
    children: dict[str, Node] = field(default_factory=dict)


class TreeError(ValueError):
    """A contributed command that cannot be placed (its parent is missing, its name taken)."""


class CommandTree:
    """Every command, by level.  :meth:`run` parses one command line and runs it."""

    def __init__(self, commands: Iterable[CliCommand] = ()) -> None:
        self.top: dict[str, Node] = {}
        for command in commands:
            self.add(command)

    def add(self, command: CliCommand) -> None:
        """Place ``command``; raises :class:`TreeError` when it cannot be."""
        if not command.path or any(not word or " " in word for word in command.path):
            raise TreeError(f"invalid CLI command path {command.path!r}")
        level = self.top
        for depth in range(1, len(command.path)):
            parent = level.get(command.path[depth - 1])
            if parent is None:
                raise TreeError(f"CLI command {' '.join(command.path)!r}: no command "
                                f"{' '.join(command.path[:depth])!r} to add it to")
            level = parent.children
        if command.name in level:
            raise TreeError(f"CLI command {' '.join(command.path)!r} already exists")
        node = Node(command)
        if command.same_as is not None:
            node.children = self._node(command.same_as).children
        level[command.name] = node

    def _node(self, path: tuple[str, ...]) -> Node:
        level, node = self.top, None
        for word in path:
            node = level.get(word)
            if node is None:
                raise TreeError(f"no CLI command {' '.join(path)!r}")
            level = node.children
        assert node is not None
        return node

    async def run(self, line: str, ctx: CliContext) -> None:
        """Parse ``line`` from the top level and run the command it names."""
        if not line:
            ctx.write("Incomplete command: \n")
            return
        await self.dispatch(self.top, line, ctx)

    async def dispatch(self, level: dict[str, Node], text: str, ctx: CliContext) -> None:
        """Pick the command of ``level`` that ``text`` starts with and run it on the rest."""
        word, _, rest = text.partition(" ")
        node = level.get(word)
        if node is None and word == "help":
            ctx.write(HELP_HEADER + "".join(help_line(n, "\t") for n in level.values()))
            return
        if node is None:
            found = _prefix_match(level, text)
            if found is None:
                ctx.write(f"Unknown command: {word}\n")
                return
            node, rest = found
        if node.command.handler is None:
            if not rest:
                ctx.write(MORE_PARAMETERS)
                return
            await self.dispatch(node.children, rest, ctx)
            return
        outer, ctx.node = ctx.node, node
        try:
            result = node.command.handler(ctx, rest)
            if inspect.isawaitable(result):
                await result
        finally:
            ctx.node = outer

    def usage(self) -> str:
        """rtpengine's ``usage``: the whole tree, 4 more spaces per level, a blank line after
        each top-level command."""
        lines = ["    Supported commands are:\n\n"]

        def walk(level: dict[str, Node], indent: int) -> None:
            for node in level.values():
                lines.append(help_line(node, " " * indent))
                if node.children:
                    walk(node.children, indent + 4)
                if indent == 4:
                    lines.append("\n")

        walk(self.top, 4)
        return "".join(lines)


def _prefix_match(level: dict[str, Node], text: str) -> tuple[Node, str] | None:
    """rtpengine 10.5's matching: the longest command name that ``text`` starts with, then one
    byte (any byte) skipped."""
    names = [name for name in level if text.startswith(name) and len(text) > len(name)]
    if not names:
        return None
    name = max(names, key=len)
    return level[name], text[len(name) + 1:]


def help_line(node: Node, prefix: str) -> str:
    """``<prefix><cmd>[ <params>]``, then the help text from column 50 (or right after)."""
    command = node.command
    params = command.params
    if params is None and command.is_group:
        params = "<option>"
    head = prefix + command.name + ("" if params is None else f" {params}")
    if command.help is None:
        return head + "\n"
    return head.ljust(HELP_COLUMN) + f": {command.help}\n"


@dataclass
class CliContext:
    """One command being run: where output goes and what the handlers share.

    ``call`` is set by ``call <callid> ...`` for its sub-commands (and ``monologue`` by
    ``call <callid> tag <tag> ...``); ``node`` is the command
    whose handler is running (so a handler can hand the rest of the line to its sub-commands
    with :meth:`subcommands`).
    """

    runtime: Runtime
    tree: CommandTree
    log_levels: LogLevels
    out: list[str] = field(default_factory=list)
    node: Node | None = None
    call: CallView | None = None
    monologue: MonologueView | None = None

    def write(self, text: str) -> None:
        self.out.append(text)

    async def subcommands(self, text: str) -> None:
        """Run ``text`` against the sub-commands of the running command."""
        assert self.node is not None, "subcommands() outside a handler"
        await self.tree.dispatch(self.node.children, text, self)

    @property
    def output(self) -> str:
        return "".join(self.out)
