"""The plugin's hooks: what it declares to codec negotiation and to the media pipeline."""

from __future__ import annotations

from typing import Any

import rtpgate_transcode.plugin as plugin
from rtpgate.api import CodecSupport
from rtpgate_transcode.delay import DelayFactory
from rtpgate_transcode.factory import TranscodeFactory
from rtpgate_transcode.player import PlayerFactory, Players
from rtpgate_transcode.security import SecurityFactory


def test_rtpgate_media_codecs_declares_what_ffmpeg_can_do() -> None:
    runtime: Any = None
    support = CodecSupport(plugin.rtpgate_media_codecs(runtime))
    for encoding in ("PCMU/8000", "PCMA/8000", "G722/8000", "opus/48000/2", "opus/48000",
                     "AMR/8000", "G726-16/8000", "G726-24/8000", "G726-32/8000",
                     "G726-40/8000"):
        assert support.can_transcode(encoding), encoding
    for encoding in ("GSM/8000", "G729/8000", "AMR-WB/16000",
                     "iLBC/8000"):  # FFmpeg decodes only
        assert support.can_decode(encoding) and not support.can_transcode(encoding), encoding
    for encoding in ("telephone-event/8000", "telephone-event/16000", "telephone-event/48000",
                     "CN/8000", "CN/16000", "CN/48000"):
        assert support.can_transcode(encoding), encoding
    for encoding in ("speex/8000", "telephone-event/44100", "AAL2-G726-32/8000"):
        assert not support.can_decode(encoding), encoding
    opus = support.find("opus")
    assert opus is not None and opus.encoding == "opus/48000/2"


def test_rtpgate_media_pipeline_gives_the_transcode_factory() -> None:
    runtime: Any = None
    factories = list(plugin.rtpgate_media_pipeline(runtime))
    # the delay buffer first (it holds what the others get), then DTMF-security: the audio
    # they make is transcoded like the party's own
    assert [type(f) for f in factories] == [DelayFactory, SecurityFactory, TranscodeFactory,
                                            PlayerFactory]


def test_rtpgate_media_players_gives_the_player() -> None:
    """(The player over a real server: test_player.py.)"""
    runtime: Any = None
    players = list(plugin.rtpgate_media_players(runtime))
    assert len(players) == 1 and isinstance(players[0], Players)
