"""The plugin's hooks: the codecs it can decode and encode, and its pipeline factory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rtpgate.api import CodecCapability, Option, hookimpl

from . import cn, formats
from .delay import DelayFactory
from .factory import TranscodeFactory
from .player import PlayerFactory, Players
from .security import SecurityFactory

if TYPE_CHECKING:
    from rtpgate.api import MediaPlayers, PipelineFactory, Runtime, Stage, Stream


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return cn.OPTIONS


@hookimpl
def rtpgate_media_codecs(runtime: Runtime) -> Iterable[CodecCapability]:
    return [*(codec.capability for codec in formats.CODECS),
            # RFC 4733 events at every clock rate of the codecs above (rtpengine adds
            # telephone-event/48000 beside an added opus); events <-> in-band tones, and
            # events translated between clock rates
            *(CodecCapability("telephone-event", clock, fmtp="0-15")
              for clock in formats.clocks()),
            # RFC 3389 comfort noise at every clock rate of the codecs above
            *(CodecCapability("CN", clock) for clock in formats.clocks())]


@hookimpl
def rtpgate_media_pipeline(runtime: Runtime) -> Iterable[PipelineFactory]:
    # the delay buffer first (it holds what every other stage gets), then DTMF-security:
    # what they make is audio of the party's codec, for the others
    def resume(stream: Stream, data: bytes, stage: Stage) -> None:
        relay_stream = runtime.engine.relay.streams.get(stream)
        if relay_stream is not None and not relay_stream.closed:
            relay_stream.resume(data, stage)

    return [DelayFactory(resume), SecurityFactory(), TranscodeFactory(runtime),
            PlayerFactory()]


@hookimpl
def rtpgate_media_players(runtime: Runtime) -> Iterable[MediaPlayers]:
    return [Players()]
