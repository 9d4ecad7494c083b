"""The media player's ng commands: ``play media``, ``stop media``, ``play silence`` and
``play DTMF``.

The engine picks the party (as ``block DTMF`` does, the from-tag always honoured) and its first
audio media that has a stream; a media plugin does the rest (decoding, encoding, timing) through
the :class:`MediaPlayers` it returns from the ``rtpgate_media_players`` hook, so core never
imports a codec library.  Like rtpengine's ``media_player``, the chosen party *hears* the
media: it is sent from that party's own port, in place of what its peer sends, until it ends or
``stop media``; then the peer's media flows again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..ngcommands.command import NgError, Reply
from . import model as m
from .party import party
from .requests import PlayDtmfRequest, PlayMediaRequest

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("rtpgate.engine")


@dataclass(frozen=True, slots=True)
class PlaySource:
    """What to play: a file, a blob of file content, or silence (neither)."""

    file: str | None = None
    blob: bytes | None = None
    repeat_times: int = 1
    start_ms: int = 0
    #: Milliseconds to play at most (``None``: the whole source, each repetition).
    duration_ms: int | None = None


class MediaPlayers(Protocol):
    """A media plugin's players, one per media at most."""

    def play(self, engine: Engine, media: m.Media, source: PlaySource) -> int:
        """Start (or restart) playing ``source`` to ``media``'s party; the duration in ms.
        Raises :class:`NgError` (nothing changed) when the source cannot be played."""
        ...

    def stop(self, engine: Engine, media: m.Media) -> bool:
        """Stop playing to ``media``'s party; False when nothing played."""
        ...

    def dtmf(self, engine: Engine, media: m.Media, digits: list[int], duration_ms: int,
             volume: int, pause_ms: int) -> None:
        """Play DTMF ``digits`` (RFC 4733 event codes) to ``media``'s party: RFC 4733 events
        where it negotiated telephone-event, else the tones in its audio."""
        ...


def _media(engine: Engine, request: PlayMediaRequest | PlayDtmfRequest) -> list[m.Media]:
    call, ml = party(engine, request)
    parties = [ml] if ml is not None else list(call.monologues)
    medias = [media for party in parties for media in party.medias
              if media.type == "audio" and media.streams]
    if not medias:
        raise NgError("No suitable media found")
    return medias[:1] if ml is not None else medias


def _players(engine: Engine) -> MediaPlayers:
    if engine.players is None:
        raise NgError("Media playback not supported")
    return engine.players


def play_media(engine: Engine, request: PlayMediaRequest) -> Reply:
    players = _players(engine)
    if request.file:
        source = PlaySource(file=request.file)
    elif request.blob:
        source = PlaySource(blob=request.blob)
    elif request.db_id is not None:
        raise NgError("Failed to start media playback from database")
    else:
        raise NgError("No media file specified")
    source = PlaySource(source.file, source.blob, max(request.repeat_times or 1, 1),
                        max(request.start_pos or 0, 0),
                        request.duration if request.duration and request.duration > 0
                        else None)
    return _play(engine, players, request, source)


def play_silence(engine: Engine, request: PlayMediaRequest) -> Reply:
    """Silence in place of the peer's media, for ``duration`` ms (until ``stop media``)."""
    players = _players(engine)
    source = PlaySource(duration_ms=request.duration if request.duration and
                        request.duration > 0 else None)
    return _play(engine, players, request, source)


def _play(engine: Engine, players: MediaPlayers, request: PlayMediaRequest,
          source: PlaySource) -> Reply:
    medias = _media(engine, request)
    duration = 0
    for media in medias:
        duration = players.play(engine, media, source)
    reply: Reply = {}
    if duration > 0:
        reply["duration"] = duration
    return reply


def stop_media(engine: Engine, request: PlayMediaRequest) -> Reply:
    players = _players(engine)
    for media in _media(engine, request):
        players.stop(engine, media)  # nothing playing is no error, as in rtpengine
    return {}


#: RFC 4733 event codes of the DTMF keys ``play DTMF`` accepts as ``code``.
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14,
               "D": 15}


def _dtmf_codes(code: str) -> list[int]:
    if code.isdigit() and 0 <= int(code) <= 15 and len(code) <= 2 and code not in DTMF_EVENTS:
        return [int(code)]  # a numeric event code (10-15)
    events = [DTMF_EVENTS.get(key.upper()) for key in code]
    if not events or None in events:
        raise NgError("Invalid 'code' specified")
    return [e for e in events if e is not None]


def play_dtmf(engine: Engine, request: PlayDtmfRequest) -> Reply:
    """DTMF generated as if the selected party sent it: its peer hears it (rtpengine's "the
    selected call participant is the one generating the DTMF event").  As rtpengine 10.5
    (checked on real packets): only once that party has sent RTP ('No SSRC context present
    for DTMF injection' before), and only where ``inject DTMF`` was given or the call
    transcodes towards a peer with telephone-event; otherwise "ok" and nothing is played."""
    players = _players(engine)
    if request.code is None or request.code == "":
        raise NgError("No valid 'code' specified")
    digits = _dtmf_codes(request.code)
    duration = request.duration if request.duration is not None else 100
    if not 100 <= duration <= 5000:
        raise NgError("Out of range 'duration' specified")
    volume = abs(request.volume) if request.volume is not None else 8
    if volume > 63:
        raise NgError("Out of range 'volume' specified")
    pause = request.pause if request.pause is not None else 100
    if not 100 <= pause <= 5000:
        raise NgError("Out of range 'pause' specified")
    medias = []
    for media in _media(engine, request):
        peer = media.monologue.peers[0] if media.monologue.peers else None
        peer_media = peer.media(media.index) if peer is not None else None
        if peer is None or peer_media is None or not peer_media.streams:
            continue
        if not media.streams[0].ssrcs:  # the party has sent nothing yet
            raise NgError("No SSRC context present for DTMF injection")
        # rtpengine 10.5 injects where 'inject DTMF' put the call through its codec path,
        # or as RFC 4733 events where the call transcodes anyway and the hearer has them;
        # otherwise it answers "ok" and plays nothing
        events = any(c.name == "telephone-event" for c in peer_media.codecs)
        if media.monologue.inject_dtmf or peer.inject_dtmf or (
                events and (media.flags | peer_media.flags) & m.MF_TRANSCODING):
            medias.append(peer_media)
        else:
            log.info("play DTMF: no 'inject DTMF' and no transcoding to telephone-event: "
                     "nothing played (as rtpengine)")
            return {}
    if not medias:
        raise NgError("No suitable media found")
    for media in medias:
        players.dtmf(engine, media, digits, duration, volume, pause)
    return {}
