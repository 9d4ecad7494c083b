"""The media player (``play media``, ``play silence``, ``stop media``; see
:mod:`rtpgate.engine.playback`): audio decoded with FFmpeg, encoded to the codec the party
receives, sent every 20 ms from the party's own port.

While it plays, the player is an egress stage of the party's RTP stream (added on demand by
:class:`PlayerFactory`, so a stream without a player pays nothing): it drops what the peer
sends to the party and goes when the audio ends or ``stop media``, so the peer's media flows
again.  Its packets carry the SSRC, sequence numbers and timestamps of the stream the party
was receiving (taken from the last packet it replaced, else the peer's last SSRC), so the
party sees one stream continue; they go through the egress stages after it (SRTP).

While the peer sends, each of its packets drives the player (as rtpengine's, whose players
run in the peer's codec path): it is replaced by the player's packets for that packet time,
which take its timestamp and the stream's next sequence number, and the player's own 20 ms
timer only takes over when the peer has been quiet for :data:`QUIET` packet times.  When the
player sent more packets than it replaced (an RFC 4733 event's end is sent three times), the
peer's packets that follow are renumbered by the difference (rtpengine's ``seq_diff``: the
party's stream has no sequence number twice), by :class:`Renumber`.

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
#: The media's :class:`Renumber` once a player sent more or fewer packets than it replaced.
RENUMBER_KEY = "player-renumber"
#: Where the media's last player left its stream: (SSRC, next sequence number, next
#: timestamp); the next player continues it where the peer gives it nothing to take over.
LAST_KEY = "player-last"
PTIME = 20
#: Longest audio a player holds (repetitions included): an hour at 48 kHz is 330 MB of s16.
MAX_SECONDS = 600
_HEADER = struct.Struct("!BBHII")
_SEQ = struct.Struct("!H")
_SSRC = struct.Struct("!I")
#: Packet times the player waits for a packet of the peer to continue its numbering from
#: before it starts with the peer's last SSRC and numbering of its own.
ADOPT_WAIT = 2
#: Packet times without a packet of the peer after which the player's timer sends again.
QUIET = 3
#: What :meth:`Player._packets` gives for a packet time in which the peer's audio goes on.
_PASS: list[bytes] = []


@dataclass(frozen=True, slots=True)
class Target:
    """The codec the party receives, as it negotiated it."""

    codec: formats.AudioCodec
    pt: int
    fmtp: str


def target(media: Media) -> Target:
    """The first codec rtpgate offered or answered to the party that can be encoded; before
    rtpgate wrote any (an offer not answered yet), the first of the party's own."""
    for codec in media.codecs or media.sent_codecs:
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
    #: The first packet has the marker bit (a new talk spurt).
    marker_first = True
    #: Each of the peer's packets makes the player's packets of its time (``play DTMF``, as
    #: rtpengine's injection in the peer's codec path); else only the timer does (``play
    #: media``: rtpengine's media player runs on its own clock).
    driven_by_peer = False

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
        last = media.plugin_state.get(LAST_KEY)
        if isinstance(last, tuple) and (not seen or last[0] == seen[-1]):
            # a player again (``play media`` restarted): its stream continues, as rtpengine's
            self.ssrc, self.seq, self.timestamp = last
        self._adopted = False
        self._waited = 0
        self.sent = 0
        renumber = media.plugin_state.get(RENUMBER_KEY)
        #: the sequence-number offset earlier players left on the peer's packets
        self._offset_before = renumber.offset if isinstance(renumber, Renumber) else 0
        #: the last of the peer's packets the player took the place of (its own number)
        self._replaced: int | None = None
        self._over = False
        self._timer: asyncio.TimerHandle | None = None
        self._next = 0.0

    # ------------------------------------------------------------------ the stage

    def rtp(self, data: bytes) -> bytes | None:
        """The peer's packet to the party: replaced by the player's packets of this packet
        time.  Before the first packet of the player, its numbering is taken over (its own
        sequence number and timestamp, as rtpengine's: the packet it replaces is never
        sent), so the party sees the same stream continue; the codec too, when the party
        receives another of its codecs than the first."""
        if len(data) < 12:
            return None
        _, second, seq, timestamp, ssrc = _HEADER.unpack_from(data)
        if self._over:
            return self._continued(data, seq)
        if not self._adopted and self.sent == 0:
            self.ssrc, self.seq = ssrc, (seq + self._offset_before) & 0xFFFF
            self._adopted = True
            self._retarget(second & 0x7F)
        if not self.driven_by_peer or not self._adopted or ssrc != self.ssrc:
            return None
        self.timestamp = timestamp
        packets = self._packets()
        if packets is None:  # the end: the peer's media flows again from this packet on
            self._over = True
            asyncio.get_running_loop().call_soon(self.finish)
            return self._continued(data, seq)
        self._replaced = seq
        self._next = asyncio.get_running_loop().time() + QUIET * PTIME / 1000
        if packets is _PASS:  # a pause between RFC 4733 events: the peer's audio
            return self._continued(data, seq)
        stream = self._engine.relay.streams.get(self._media.streams[0])
        if stream is not None:
            for packet in packets:
                stream.send_made(packet, self)
        return None

    def _continued(self, data: bytes, seq: int) -> bytes:
        """The peer's packet ``seq`` passed on, numbered on from the player's packets."""
        self._replaced = seq
        out = bytearray(data)
        struct.pack_into("!H", out, 2, self.seq)
        self.seq = (self.seq + 1) & 0xFFFF
        return bytes(out)

    def _retarget(self, pt: int) -> None:
        """Encode to ``pt`` from now on where the party receives that codec (a transcoded
        call answered with another of the offered codecs) and it fits the audio made."""
        if pt == self._target.pt:
            return
        codec = next((c for c in self._media.codecs if c.pt == pt), None)
        found = formats.find(codec.encoding) if codec is not None else None
        if (codec is None or found is None or found.encoder is None
                or found.rate != self._target.codec.rate
                or channels_of(found, codec.fmtp) != self._channels):
            return
        self._target = Target(found, pt, codec.fmtp)
        self._encoder = encoder(found, self._channels, PTIME, codec.fmtp)
        self._samples = found.samples(PTIME)
        self._step = found.ticks(self._samples)

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

    @property
    def finished(self) -> bool:
        """Its last packet was sent (it goes with the peer's next packet or timer tick)."""
        return self._over

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
        """The audio ended (or ``stop media``): the peer's media flows again, numbered on
        from the player's packets."""
        self.close()
        self._over = True
        if self._media.plugin_state.get(KEY) is self:
            del self._media.plugin_state[KEY]
            if self.sent:
                self._media.plugin_state[LAST_KEY] = (self.ssrc, self.seq, self.timestamp)
            if self._replaced is not None:
                offset = (self.seq - self._replaced - 1) & 0xFFFF
                self._media.plugin_state[RENUMBER_KEY] = Renumber(self.ssrc, offset)
            self._engine.relay.sync(self._media.monologue.call)

    # ------------------------------------------------------------------ audio

    def _packets(self) -> list[bytes] | None:
        """The packets of the next 20 ms (``None``: the end; :data:`_PASS`: the peer's
        packet of this time goes on)."""
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
        first = (self.marker_first and self.sent == 0) if marker is None else marker
        header = _HEADER.pack(0x80, (0x80 if first else 0) | (
            self._target.pt if pt is None else pt), self.seq,
            self.timestamp if timestamp is None else timestamp, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        if advance:
            self.timestamp = (self.timestamp + self._step) & 0xFFFFFFFF
        self.sent += 1
        return header + payload


class TonePlayer(Player):
    """``play DTMF`` to a party without telephone-event: the digits as in-band tones in its
    codec, each followed by the pause; digits of a later ``play DTMF`` are queued after
    them.  The tones continue the party's stream (no marker bit, as rtpengine's)."""

    marker_first = False
    driven_by_peer = True

    def __init__(self, engine: Engine, media: Media, tgt: Target) -> None:
        super().__init__(engine, media, tgt, b"", 1)

    def append(self, digits: list[int], duration_ms: int, volume: int, pause_ms: int
               ) -> None:
        rate = self._target.codec.rate
        tone = b"".join(dtmf.tone(d, 0, rate * duration_ms // 1000, rate, volume)
                        + bytes(rate * pause_ms // 1000 * 2) for d in digits)
        if self._channels == 2:
            tone = b"".join(tone[i:i + 2] * 2 for i in range(0, len(tone), 2))
        self._pcm = (self._pcm or b"") + tone


class EventPlayer(Player):
    """``play DTMF`` to a party that negotiated telephone-event: RFC 4733 events (one packet
    per 20 ms, the same timestamp for one event, its duration growing), as rtpengine sends
    them: an event of N packet times has N packets, then its end three times one packet time
    later with the duration of N + 1 (section 2.5.1.4); the next digit (of the same or a
    later ``play DTMF``) starts the pause after that end packet time, during which the
    peer's audio goes on (nothing is sent when the peer is quiet)."""

    driven_by_peer = True

    def __init__(self, engine: Engine, media: Media, tgt: Target, event_pt: int) -> None:
        super().__init__(engine, media, tgt, b"", 1)
        self._event_pt = event_pt
        #: per 20 ms: the event to send then (event, end, duration in RTP ticks, first,
        #: volume), or None for the peer's audio
        self._plan: list[tuple[int, bool, int, bool, int] | None] = []
        self._start = 0

    def append(self, digits: list[int], duration_ms: int, volume: int, pause_ms: int
               ) -> None:
        ticks = max(1, -(-duration_ms // PTIME))
        for digit in digits:
            if self._plan or self.sent:
                self._plan += [None] * max(0, pause_ms // PTIME - 1)
            self._plan += [(digit, False, (i + 1) * self._step, i == 0, volume)
                           for i in range(ticks)]
            self._plan.append((digit, True, (ticks + 1) * self._step, False, volume))

    def _packets(self) -> list[bytes] | None:
        if not self._plan:
            return None
        step = self._plan.pop(0)
        if step is None:
            self.timestamp = (self.timestamp + self._step) & 0xFFFFFFFF
            return _PASS
        event, end, duration, first, volume = step
        if first:
            self._start = self.timestamp
        payload = dtmf.event_payload(event, end, volume, duration)
        out = [self._packet(payload, self._event_pt, self._start, first, advance=False)
               for _ in range(3 if end else 1)]
        self.timestamp = (self.timestamp + self._step) & 0xFFFFFFFF
        return out


class Renumber:
    """The egress stage a player leaves behind when it sent more packets than it replaced:
    the peer's packets on the player's SSRC are numbered on from the player's (rtpengine's
    ``seq_diff``)."""

    name = "player-renumber"
    error = False

    def __init__(self, ssrc: int, offset: int) -> None:
        self.ssrc = ssrc
        self.offset = offset

    def rtp(self, data: bytes) -> bytes | None:
        if len(data) < 12 or _SSRC.unpack_from(data, 8)[0] != self.ssrc:
            return data
        out = bytearray(data)
        struct.pack_into("!H", out, 2, (_SEQ.unpack_from(data, 2)[0] + self.offset) & 0xFFFF)
        return bytes(out)

    def rtcp(self, data: bytes) -> bytes | None:
        return data


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
        """The digits after those of a ``play DTMF`` still playing to the party (as
        rtpengine queues them), else from the party's next packet time."""
        tgt = target(media)
        event = next((c for c in media.codecs if c.encoding.lower() ==
                      f"telephone-event/{tgt.codec.clock}"), None)
        playing = media.plugin_state.get(KEY)
        kind = EventPlayer if event is not None else TonePlayer
        if isinstance(playing, kind) and not playing.finished:
            playing.append(digits, duration_ms, volume, pause_ms)
            return
        self.stop(engine, media)
        player = (EventPlayer(engine, media, tgt, event.pt) if event is not None
                  else TonePlayer(engine, media, tgt))
        player.append(digits, duration_ms, volume, pause_ms)
        media.plugin_state[KEY] = player
        engine.relay.sync(media.monologue.call)
        player.start()


class PlayerFactory:
    """A :class:`rtpgate.api.PipelineFactory`: the player of a media, while one plays,
    as an egress stage of the media's first RTP stream; nothing otherwise."""

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        if stream is not stream.media.streams[0]:
            return None
        player = stream.media.plugin_state.get(KEY)
        if isinstance(player, Player):
            return Pipeline(egress=(player,))
        renumber = stream.media.plugin_state.get(RENUMBER_KEY)
        if isinstance(renumber, Renumber) and renumber.offset:
            return Pipeline(egress=(renumber,))
        return None


_: type[Stage] = Player  # checks that the player fits the pipeline's stage protocol
