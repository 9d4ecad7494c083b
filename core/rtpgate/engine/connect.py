"""``connect``: two parties of a call that already have their media become each other's
peers, as if they had made an offer and answer with each other (the newest rtpengine's
``call_connect_ng``/``dialogue_connect``; rtpengine 10.5 has no such command).

The party given by ``from-tag`` (or ``label``, ``address``) and the one given by ``to-tag``
are paired both ways: whatever each sends goes to the other, media by media of the same index,
and their former offer/answer peers lose them.  Publish/subscribe links stay as they are.
Joining parties of two different calls (``to-call-id``) is not supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ngcommands.command import NgError, Reply
from .party import party
from .requests import ConnectRequest
from .signalling import pair

if TYPE_CHECKING:
    from .engine import Engine


def connect(engine: Engine, request: ConnectRequest) -> Reply:
    call, source = party(engine, request)
    if request.to_call_id and request.to_call_id != call.call_id:
        raise NgError("Connecting parties of different calls is not supported")
    if source is None:
        raise NgError("No call participant specified")
    if not request.to_tag:
        raise NgError("No to-tag in message")
    dest = call.monologue(request.to_tag)
    if dest is None:
        raise NgError("To-tag not found")
    if dest is source:
        raise NgError("Cannot connect a party to itself")
    pair(call, source, dest)
    engine.relay.sync(call)
    engine.changed(call)
    return {}
