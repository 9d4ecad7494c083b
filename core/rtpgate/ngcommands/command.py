"""What an ng command is: a name, a pydantic request model and a handler.

Commands are contributed through the ``rtpgate_ng_commands`` hook, so a plugin can add one (the
``cli`` command comes from the cli plugin).  The handler gets the validated request and an
:class:`NgContext`, and returns the reply's keys (``result`` is appended by the dispatcher) or
raises :class:`NgError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import NgRequest

if TYPE_CHECKING:
    from ..runtime import Runtime

Reply = dict[str, Any]


class NgError(Exception):
    """A failed command: the reply gets ``result: error`` and ``error-reason: <reason>``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoadLimit(Exception):  # noqa: N818 - an outcome rtpengine reports, not a bug
    """A new call refused by a configured limit.  Clients that announced ``supports:
    ["load limit"]`` get ``result: load limit`` and ``message``; others get the error
    ``Parallel session limit reached``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class NgContext:
    """Where a request came from, for the handler (offers remember the proxy address)."""

    runtime: Runtime
    #: The control client's address as the transport saw it (``None`` when unknown).
    peer: tuple[str, int] | None
    transport: str
    #: The request dictionary as decoded, for handlers that read keys outside their model.
    raw: dict[str, Any] = field(default_factory=dict)
    #: The largest encoded reply the transport can carry (a UDP datagram), ``None`` for no
    #: limit.  A handler that creates state checks its reply against it and undoes the state.
    max_reply: int | None = None


Handler = Callable[[Any, NgContext], Awaitable[Reply | None]]


@dataclass(frozen=True)
class NgCommand:
    """One ng command.  ``name`` is what clients send (case-sensitive; ``aliases`` are accepted
    too); ``short`` is rtpengine's short name, used in statistics keys (``offercount``) and in
    the CLI's control table."""

    name: str
    short: str
    model: type[NgRequest]
    handler: Handler
    aliases: tuple[str, ...] = ()
    #: The ``result`` of a successful reply (``pong`` for ping).
    ok_result: str = "ok"
    #: Counted per proxy in the control statistics (rtpengine's 24 classic commands are).
    counted: bool = True
    #: For a command that spans calls (``list``, ``statistics``): merges every worker's reply
    #: (``gather(replies, request)``, this worker's first) when several workers share the
    #: calls (``--num-threads``); ``None``: the command runs where it lands, or with its
    #: call-id's owner.
    gather: Callable[[list[Reply], dict[str, Any]], Reply] | None = None
