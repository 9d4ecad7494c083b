"""What the CLI reads from and asks of the engine (``runtime.engine``).

The engine package documents its API; this module is the one place the CLI touches it, so the
command handlers work on the small views below.  Without an engine on the runtime (a server
built without one) there are no calls: every list is empty and every call ID is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rtpgate.runtime import Runtime

#: ``terminate`` reasons as :data:`rtpgate.stats.CLOSE_REASONS` names them.
FORCED = "force_terminated"


class StreamView(Protocol):
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    rtcp_only: bool
    ssrc: int
    packets: int
    bytes: int
    errors: int
    last_packet: int  #: seconds (userspace timestamp)
    last_kernel_packet: int


class MediaView(Protocol):
    index: int
    type: str
    protocol: str | None
    codec: str | None
    streams: Sequence[StreamView]


class MonologueView(Protocol):
    tag: str
    tag_type: str  #: ``FROM_TAG``, ``TO_TAG`` or ``UNKNOWN``
    label: str
    via_branch: str
    duration: float
    aliases: Sequence[str]
    #: ``(tag, media index)`` of the media this party receives, and of those receiving its.
    subscriptions: Sequence[tuple[str, int]]
    subscribers: Sequence[tuple[str, int]]
    medias: Sequence[MediaView]


class CallView(Protocol):
    call_id: str
    created: float
    created_from: str
    deleted: bool
    foreign: bool
    recording: bool
    redis_keyspace: int
    tos: int
    last_signal: float
    debug: bool
    monologues: Sequence[MonologueView]


def engine(runtime: Runtime) -> Any:
    return getattr(runtime, "engine", None)


def calls(runtime: Runtime) -> Iterable[CallView]:
    eng = engine(runtime)
    return list(eng.calls()) if eng is not None else []


def find(runtime: Runtime, call_id: str) -> CallView | None:
    eng = engine(runtime)
    return eng.call(call_id) if eng is not None else None


async def terminate(runtime: Runtime, call: CallView) -> None:
    """End ``call`` now, releasing its ports; counted as forced."""
    await engine(runtime).terminate(call, FORCED)


def set_foreign(runtime: Runtime, foreign: bool) -> None:
    eng = engine(runtime)
    if eng is not None:
        eng.set_ownership(foreign=foreign)
