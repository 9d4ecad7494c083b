"""The media player (``play media``, ``play silence``, ``stop media``; see
:mod:`rtpgate.engine.playback`): audio decoded with FFmpeg, encoded to the codec the party
receives, sent every 20 ms from the party's own port.

While it plays, the player is an egress stage of the party's RTP stream (added on demand by
:class:`PlayerFactory`, so a stream without a player pays nothing): it drops what the peer
sends to the party and goes when the audio ends or ``stop media``, so the peer's media flows
again.  Its packets carry the SSRC, sequence numbers and timestamps of the stream the party
was receiving (taken from the last packet it replaced, else the peer's last SSRC), so the
party sees one stream continue; they go through the egress stages after it (SRTP).

The whole source is decoded when the command arrives (a missing or non-audio file is an ng
error before anything changes); files are short prompts, and decoding up front keeps the event
loop free of file I/O during playback.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av
import av.error
from rtpgate.api import Media, NgError, Pipeline, PlaySource, Stage, Stream

from . import dtmf, formats
from .chain import amr_format, channels_of, encoder

if TYPE_CHECKING:
    from rtpgate.api import Engine

log = logging.getLogger("rtpgate.transcode")

KEY = "player"
PTIME = 20
#: Longest audio a player holds (repetitions included): an hour at 48 kHz is 330 MB of s16.
MAX_SECONDS = 600
_HEADER = struct.Struct("!BBHII")
#: Packet times the player waits for a packet of the peer to continue its numbering from
#: before it starts with the peer's last SSRC and numbering of its own.
ADOPT_WAIT = 2


@dataclass(frozen=True, slots=True)
class Target:
    """The codec the party receives, as it negotiated it."""

    codec: formats.AudioCodec
    pt: int
    fmtp: str


def target(media: Media) -> Target:
    """The first codec rtpgate offered or answered to the party that can be encoded."""
    for codec in media.codecs:
        found = formats.find(codec.encoding)
        if found is not None and found.encoder is not None:
            return Target(found, codec.pt, codec.fmtp)
    raise NgError("No suitable codec for media playback")


def decode(source: PlaySource, rate: int, channels: int) -> tuple[bytes, int]:
    """s16 samples of ``source`` at ``rate`` (from its start position, at most its duration),
    and the source's duration in ms.  Raises :class:`NgError` for what cannot be played."""
    what = "file" if source.file is not None else "blob"
    error = NgError(f"Failed to start media playback from {what}")
    try:
        container = av.open(source.file if source.file is not None
                            else io.BytesIO(source.blob or b""), "r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        log.info("play media: cannot open the %s: %s", what, exc)
        raise error from exc
    layout = "stereo" if channels == 2 else "mono"
    width = 2 * channels
    with container:
        if not container.streams.audio:
            log.info("play media: the %s has no audio", what)
            raise error
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        pcm = bytearray()
        try:
            for frame in container.decode(audio=0):
                frame.pts = None
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[:out.samples * width]
                if len(pcm) > MAX_SECONDS * rate * width:
                    break
            for out in resampler.resample(None):
                pcm += bytes(out.planes[0])[:out.samples * width]
        except av.error.FFmpegError as exc:
            log.info("play media: the %s does not decode: %s", what, exc)
            raise error from exc
    if not pcm:
        raise error
    start = min(source.start_ms * rate // 1000, len(pcm) // width) * width
    pcm = pcm[start:]
    if source.duration_ms is not None:
        pcm = pcm[:source.duration_ms * rate // 1000 * width]
    return bytes(pcm), len(pcm) // width * 1000 // rate


class Player:
    """Plays one PCM buffer to one party; also the egress stage that replaces the peer's
    packets while it plays."""

    name = "player"

    def __init__(self, engine: Engine, media: Media, tgt: Target, pcm: bytes | None,
                 repeat: int) -> None:
        self.error = False
        self._engine = engine
        self._media = media
        self._target = tgt
        self._channels = channels_of(tgt.codec, tgt.fmtp)
        self._encoder = encoder(tgt.codec, self._channels, PTIME, tgt.fmtp)
        self._samples = tgt.codec.samples(PTIME)
        self._step = tgt.codec.ticks(self._samples)
        self._frame_bytes = self._samples * 2 * self._channels
        self._pcm = pcm  # None: silence until stopped
        self._left = repeat
        self._offset = 0
        self._pts = 0
        peer = media.monologue.peers[0] if media.monologue.peers else None
        peer_media = peer.media(media.index) if peer is not None else None
        seen = peer_media.streams[0].ssrcs if peer_media and peer_media.streams else []
        self.ssrc = seen[-1] if seen else secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self._adopted = False
        self._waited = 0
        self.sent = 0
        self._timer: asyncio.TimerHandle | None = None
        self._next = 0.0

    # ------------------------------------------------------------------ the stage

    def rtp(self, data: bytes) -> bytes | None:
        """The peer's packet to the party: replaced.  Before the first packet of the player,
        its numbering is taken over (its own sequence number and timestamp, as rtpengine's:
        the packet it replaces is never sent), so the party sees the same stream continue."""
        if not self._adopted and self.sent == 0 and len(data) >= 12:
            _, _, seq, timestamp, ssrc = _HEADER.unpack_from(data)
            self.ssrc, self.seq, self.timestamp = ssrc, seq, timestamp
            self._adopted = True
        return None

    def rtcp(self, data: bytes) -> bytes | None:
        return data

    # ------------------------------------------------------------------ timing

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._next = loop.time()
        self._timer = loop.call_at(self._next, self._tick)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        stream = self._engine.relay.streams.get(self._media.streams[0])
        if stream is None or stream.closed or self._media.plugin_state.get(KEY) is not self:
            if self._media.plugin_state.get(KEY) is self:  # the call or its port went
                del self._media.plugin_state[KEY]
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._next > 0.2:  # the loop stalled: do not burst, continue from now
            self._next = now
        while self._next <= now:
            self._next += PTIME / 1000
            if not self._adopted and self._waited < ADOPT_WAIT:
                self._waited += 1  # the peer's next packet gives the numbering to continue
                continue
            packets = self._packets()
            if packets is None:
                self.finish()
                return
            for packet in packets:
                stream.send_made(packet, self)
        self._timer = loop.call_at(self._next, self._tick)

    def finish(self) -> None:
        """The audio ended (or ``stop media``): the peer's media flows again."""
        self.close()
        if self._media.plugin_state.get(KEY) is self:
            del self._media.plugin_state[KEY]
            self._engine.relay.sync(self._media.monologue.call)

    # ------------------------------------------------------------------ audio

    def _packets(self) -> list[bytes] | None:
        """The packets of the next 20 ms (``None``: the end)."""
        frame = self._frame()
        if frame is None:
            return None
        return [self._packet(payload) for payload in self._encode(frame)]

    def _frame(self) -> bytes | None:
        if self._pcm is None:
            return bytes(self._frame_bytes)
        if self._offset >= len(self._pcm):
            self._left -= 1
            if self._left <= 0:
                return None
            self._offset = 0
        chunk = self._pcm[self._offset:self._offset + self._frame_bytes]
        self._offset += self._frame_bytes
        return chunk.ljust(self._frame_bytes, b"\0")

    def _encode(self, pcm: bytes) -> list[bytes]:
        frame = av.AudioFrame(format="s16", layout="stereo" if self._channels == 2 else "mono",
                              samples=self._samples, align=1)
        frame.sample_rate = self._target.codec.rate
        frame.planes[0].update(pcm)
        frame.pts = self._pts
        self._pts += self._samples
        frames = [bytes(p) for p in self._encoder.encode(frame)]
        amr = amr_format(self._target.codec, self._target.fmtp)
        payload = amr.payload(frames) if amr is not None and frames else b"".join(frames)
        return [payload] if payload else []

    def _packet(self, payload: bytes, pt: int | None = None, timestamp: int | None = None,
                marker: bool | None = None, advance: bool = True) -> bytes:
        first = self.sent == 0 if marker is None else marker
        header = _HEADER.pack(0x80, (0x80 if first else 0) | (
            self._target.pt if pt is None else pt), self.seq,
            self.timestamp if timestamp is None else timestamp, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        if advance:
            self.timestamp = (self.timestamp + self._step) & 0xFFFFFFFF
        self.sent += 1
        return header + payload


class EventPlayer(Player):
    """``play DTMF`` to a party that negotiated telephone-event: RFC 4733 events (one packet
    per 20 ms, the same timestamp for one event, its duration growing, the end packet sent
    three times, section 2.5.1.4), nothing during the pause between digits."""

    def __init__(self, engine: Engine, media: Media, tgt: Target, event_pt: int,
                 digits: list[int], duration_ms: int, volume: int, pause_ms: int) -> None:
        super().__init__(engine, media, tgt, b"", 1)
        self._event_pt = event_pt
        ticks = max(1, -(-duration_ms // PTIME))
        #: per 20 ms: the events to send then (event, end, duration in RTP ticks, first)
        self._plan: list[tuple[int, bool, int, bool] | None] = []
        for digit in digits:
            self._plan += [(digit, i == ticks - 1, (i + 1) * self._step, i == 0)
                           for i in range(ticks)]
            self._plan += [None] * (pause_ms // PTIME)
        self._volume = volume
        self._start = 0

    def _packets(self) -> list[bytes] | None:
        if not self._plan:
            return None
        step = self._plan.pop(0)
        if step is None:
            self.timestamp = (self.timestamp + self._step) & 0xFFFFFFFF
            return []
        event, end, duration, first = step
        if first:
            self._start = self.timestamp
        payload = dtmf.event_payload(event, end, self._volume, duration)
        out = [self._packet(payload, self._event_pt, self._start, first, advance=False)
               for _ in range(3 if end else 1)]
        self.timestamp = (self.timestamp + self._step) & 0xFFFFFFFF
        return out


class Players:
    """The plugin's :class:`rtpgate.engine.playback.MediaPlayers`."""

    def play(self, engine: Engine, media: Media, source: PlaySource) -> int:
        tgt = target(media)
        channels = channels_of(tgt.codec, tgt.fmtp)
        if source.file is None and source.blob is None:
            pcm, duration = None, source.duration_ms or 0
            if source.duration_ms is not None:
                pcm = bytes(tgt.codec.samples(source.duration_ms) * 2 * channels)
        else:
            pcm, duration = decode(source, tgt.codec.rate, channels)
        self.stop(engine, media)
        player = Player(engine, media, tgt, pcm, source.repeat_times)
        media.plugin_state[KEY] = player
        engine.relay.sync(media.monologue.call)
        player.start()
        return duration

    def stop(self, engine: Engine, media: Media) -> bool:
        player = media.plugin_state.get(KEY)
        if not isinstance(player, Player):
            return False
        player.finish()
        return True


    def dtmf(self, engine: Engine, media: Media, digits: list[int], duration_ms: int,
             volume: int, pause_ms: int) -> None:
        tgt = target(media)
        event = next((c for c in media.codecs if c.encoding.lower() ==
                      f"telephone-event/{tgt.codec.clock}"), None)
        player: Player
        if event is not None:
            player = EventPlayer(engine, media, tgt, event.pt, digits, duration_ms, volume,
                                 pause_ms)
        else:
            rate, channels = tgt.codec.rate, channels_of(tgt.codec, tgt.fmtp)
            tone = b"".join(dtmf.tone(d, 0, rate * duration_ms // 1000, rate, volume)
                            + bytes(rate * pause_ms // 1000 * 2) for d in digits)
            if channels == 2:
                tone = b"".join(tone[i:i + 2] * 2 for i in range(0, len(tone), 2))
            player = Player(engine, media, tgt, tone, 1)
        self.stop(engine, media)
        media.plugin_state[KEY] = player
        engine.relay.sync(media.monologue.call)
        player.start()


class PlayerFactory:
    """A :class:`rtpgate.api.PipelineFactory`: the player of a media, while one plays,
    as an egress stage of the media's first RTP stream; nothing otherwise."""

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        player = stream.media.plugin_state.get(KEY)
        if isinstance(player, Player) and stream is stream.media.streams[0]:
            return Pipeline(egress=(player,))
        return None


_: type[Stage] = Player  # checks that the player fits the pipeline's stage protocol
