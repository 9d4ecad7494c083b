"""What the CLI reads from and asks of the engine (``runtime.engine``): views of its calls.

This is the one module that touches the engine: it turns the engine's call model
(:mod:`rtpgate.engine.model`: ``Call``, ``Monologue``, ``Media``, ``Stream``) into the plain
views below, which the command handlers format.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rtpgate.api import PS_FALLBACK_RTCP

if TYPE_CHECKING:
    from rtpgate.api import Call, Media, Monologue, Runtime, Stream

#: ``terminate`` reason, as :data:`rtpgate.counters.CLOSE_REASONS` names it.
FORCED = "force_terminated"


@dataclass(frozen=True)
class StreamView:
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


@dataclass(frozen=True)
class MediaView:
    index: int
    type: str
    protocol: str | None
    codec: str | None
    streams: Sequence[StreamView]


@dataclass(frozen=True)
class MonologueView:
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


@dataclass(frozen=True)
class CallView:
    call_id: str
    created: float
    created_from: str
    deleted: bool
    foreign: bool
    recording: bool
    redis_keyspace: int
    last_redis_update: int  #: microseconds (0: never written)
    tos: int
    last_signal: float
    monologues: Sequence[MonologueView]
    #: The engine's call object, for ``terminate`` and ``debug``.
    call: Call


def calls(runtime: Runtime) -> list[CallView]:
    return [view(call) for call in runtime.engine.calls()]


def find(runtime: Runtime, call_id: str) -> CallView | None:
    call = runtime.engine.call(call_id)
    return view(call) if call is not None else None


async def terminate(runtime: Runtime, call: CallView) -> None:
    """End the call now, releasing its ports; counted as forced."""
    await runtime.engine.terminate(call.call, FORCED)


def set_debug(call: CallView, flag: bool) -> None:
    call.call.debug = flag


def set_foreign(runtime: Runtime, foreign: bool) -> None:
    runtime.engine.set_ownership(foreign=foreign)


# ---------------------------------------------------------------------- model -> views

def view(call: Call) -> CallView:
    recording = call.recording
    now = time.time()
    return CallView(
        call_id=call.call_id, created=call.created, created_from=call.proxy,
        deleted=call.deletion_mark, foreign=call.foreign,
        recording=bool(recording and recording.recording),
        redis_keyspace=call.keyspace, last_redis_update=int(call.last_stored * 1_000_000),
        tos=0,
        last_signal=call.last_signal,
        monologues=[_monologue(ml, index == 0, now) for index, ml in enumerate(call.monologues)],
        call=call)


def _monologue(ml: Monologue, first: bool, now: float) -> MonologueView:
    tag_type = "UNKNOWN" if not ml.tag or ml.kind != "offer/answer" else \
        "FROM_TAG" if first else "TO_TAG"
    peers = [(peer.tag, media.index) for media in ml.medias for peer in ml.peers
             if peer.media(media.index) is not None]
    # publish/subscribe links: the source media each of its medias copies, and the
    # subscribers' medias that copy one of its own
    sources = [(media.source.monologue.tag, media.source.index) for media in ml.medias
               if media.source is not None]
    own = set(map(id, ml.medias))
    subscribers = [(sub.tag, media.index) for sub in ml.call.subscribers(ml)
                   for media in sub.medias
                   if media.source is not None and id(media.source) in own]
    return MonologueView(
        tag=ml.tag, tag_type=tag_type, label=ml.label or "", via_branch=ml.via_branch or "",
        duration=max(0.0, now - ml.created), aliases=list(ml.aliases),
        subscriptions=peers + sources, subscribers=peers + subscribers,
        medias=[_media(media) for media in ml.medias])


def _media(media: Media) -> MediaView:
    codec = next((media.encodings.get(pt) for pt in media.payload_types), None)
    return MediaView(index=media.index, type=media.type, protocol=media.protocol, codec=codec,
                     streams=[_stream(s) for s in media.streams
                              if not s.flags & PS_FALLBACK_RTCP])  # as rtpengine lists


def _stream(stream: Stream) -> StreamView:
    selected, remote = stream.selected, stream.endpoint
    return StreamView(
        local_address=selected.local.address if selected else "0.0.0.0",
        local_port=selected.port if selected else 0,
        remote_address=remote.address if remote else "0.0.0.0",
        remote_port=remote.port if remote else 0,
        rtcp_only=stream.is_rtcp, ssrc=0, packets=stream.stats_in.packets,
        bytes=stream.stats_in.bytes, errors=stream.stats_in.errors,
        last_packet=int(stream.last_packet), last_kernel_packet=0)
