"""The engine's ng commands, with rtpengine's names and short names (control statistics keys)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..ngcommands.command import NgCommand, NgContext, Reply
from . import connect, party, playback, pubsub, signalling
from .negotiate import ANSWER, OFFER
from .requests import (
    AnswerRequest,
    BlockDtmfRequest,
    ConnectRequest,
    DeleteRequest,
    ListRequest,
    OfferRequest,
    PartyRequest,
    PlayDtmfRequest,
    PlayMediaRequest,
    PublishRequest,
    QueryRequest,
    RecordingRequest,
    SubscribeAnswerRequest,
    SubscribeRequest,
    UnsubscribeRequest,
)

if TYPE_CHECKING:
    from .engine import Engine


def _engine(ctx: NgContext) -> Engine:
    return ctx.runtime.engine


Handler = Callable[[Any, NgContext], Awaitable[Reply | None]]


def _handler(fn: Callable[[Engine, Any], Reply]) -> Handler:
    async def handle(request: Any, ctx: NgContext) -> Reply | None:
        return fn(_engine(ctx), request)

    handle.__name__ = fn.__name__
    return handle


async def _count_siblings(engine: Engine, call_id: str | None) -> None:
    """Before a new call is checked against the load limits, with several workers: the other
    workers' calls and bandwidth (set here, read by the synchronous handler right after)."""
    if (engine.siblings_load is not None and (call_id or "") not in engine.by_id
            and engine.load.counts_siblings(engine.settings)):
        engine.load.siblings = await engine.siblings_load()


async def _offer(request: OfferRequest, ctx: NgContext) -> Reply:
    engine = _engine(ctx)
    await _count_siblings(engine, request.call_id)
    return signalling.offer_answer(engine, request, ctx.peer, OFFER, ctx.max_reply)


async def _answer(request: AnswerRequest, ctx: NgContext) -> Reply:
    return signalling.offer_answer(_engine(ctx), request, ctx.peer, ANSWER, ctx.max_reply)


async def _publish(request: PublishRequest, ctx: NgContext) -> Reply:
    engine = _engine(ctx)
    await _count_siblings(engine, request.call_id)
    return pubsub.publish(engine, request, ctx.peer)


def _rec(action: str) -> Handler:
    return _handler(_relayed(lambda engine, request: party.recording(engine, request,
                                                                         action)))


def _fwd(start: bool) -> Handler:
    return _handler(_relayed(lambda engine, request: party.forwarding(engine, request,
                                                                          start)))


def _relayed(fn: Callable[[Engine, Any], Reply]) -> Callable[[Engine, Any], Reply]:
    """A media-control command whose new state the relay applies at once (and announced)."""

    def run(engine: Engine, request: Any) -> Reply:
        reply = fn(engine, request)
        call = engine.call(request.call_id or "")
        if call is not None:
            engine.relay.sync(call)
            engine.changed(call)
        return reply

    return run


def _dtmf(block: bool) -> Handler:
    return _handler(_relayed(lambda engine, request: party.block_dtmf(engine, request,
                                                                         block)))


def _media(block: bool, silence: bool) -> Handler:
    return _handler(_relayed(lambda engine, request: party.block_media(engine, request, block,
                                                                          silence)))


COMMANDS: tuple[NgCommand, ...] = (
    NgCommand("offer", "offer", OfferRequest, _offer),
    NgCommand("answer", "answer", AnswerRequest, _answer),
    NgCommand("delete", "delete", DeleteRequest, _handler(signalling.delete)),
    NgCommand("query", "query", QueryRequest, _handler(signalling.query)),
    NgCommand("list", "list", ListRequest, _handler(signalling.list_calls),
              gather=signalling.merge_lists),
    NgCommand("start recording", "startrec", RecordingRequest, _rec("start")),
    NgCommand("stop recording", "stoprec", RecordingRequest, _rec("stop")),
    NgCommand("pause recording", "pauserec", RecordingRequest, _rec("pause")),
    NgCommand("start forwarding", "startfwd", PartyRequest, _fwd(True)),
    NgCommand("stop forwarding", "stopfwd", PartyRequest, _fwd(False)),
    NgCommand("block DTMF", "blkdtmf", BlockDtmfRequest, _dtmf(True)),
    NgCommand("unblock DTMF", "unblkdtmf", BlockDtmfRequest, _dtmf(False)),
    NgCommand("block media", "blkmedia", PartyRequest, _media(True, False)),
    NgCommand("unblock media", "unblkmedia", PartyRequest, _media(False, False)),
    NgCommand("silence media", "slnmedia", PartyRequest, _media(True, True)),
    NgCommand("play media", "playmedia", PlayMediaRequest, _handler(playback.play_media)),
    NgCommand("stop media", "stopmedia", PlayMediaRequest, _handler(playback.stop_media)),
    NgCommand("play silence", "playmedia", PlayMediaRequest,  # counted as play media
              _handler(playback.play_silence)),
    NgCommand("play DTMF", "playdtmf", PlayDtmfRequest, _handler(playback.play_dtmf)),
    NgCommand("unsilence media", "unslnmedia", PartyRequest, _media(False, True)),
    NgCommand("publish", "pub", PublishRequest, _publish),
    NgCommand("subscribe request", "subreq", SubscribeRequest,
              _handler(pubsub.subscribe_request)),
    NgCommand("subscribe answer", "subans", SubscribeAnswerRequest,
              _handler(pubsub.subscribe_answer)),
    NgCommand("unsubscribe", "unsub", UnsubscribeRequest, _handler(pubsub.unsubscribe)),
    NgCommand("connect", "conn", ConnectRequest, _handler(connect.connect)),
)
