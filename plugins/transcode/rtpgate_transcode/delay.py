"""The delay buffer of ``block DTMF`` / ``unblock DTMF`` with ``delay-buffer`` (ms).

rtpengine holds a party's media that long when asked (its ``buffer_delay``), so a DTMF digit
found in it (an RFC 4733 event, or a tone heard in-band) can be replaced from its start: by the
time a detector is sure of a digit, its first packets would otherwise be gone.  This ingress
stage, first of the plugin's, does the same for a party whose ``delay-buffer`` is above 0:

* every RTP packet of the party is held ``delay-buffer`` ms from its arrival and then goes on
  through the rest of the pipeline (:meth:`rtpgate.media.stream.RelayStream.resume`), in order;
* on arrival the digits are noted with their RTP timestamps: an event's start at its timestamp,
  its end at timestamp + duration - 1 (end bit); in-band (Goertzel, :mod:`.dtmf`, in the audio
  of a G.711 or G.722 codec) from the end of the packet that confirms the digit to the end of
  the last packet that carried it;
* when a packet leaves, it is in a digit if its timestamp lies between the digit's start less
  the delay and its end plus the delay, as far as the digits are known by then; with the
  party's ``DTMF-security`` at ``silence`` or ``tone`` its audio is then replaced by silence or
  the tone (``frequency``, ``volume``; its phase from the timestamp, so consecutive packets
  join up), with ``zero``/``DTMF``/``random`` by that digit's tones where the peer has no
  telephone-event (silence where it has), and RFC 4733 event packets become audio packets of
  the same kind (their sequence number, the timestamp that follows the party's last audio).

``unblock DTMF`` with ``delay-buffer=0`` lets everything held go at once (without
replacement: the block is off) and the stage goes.  A held packet is counted as a drop of the
stage in the stream's stage drops (the pipeline's only way to hold one), and sent later.
Only the codecs above are decoded for in-band detection; other codecs are delayed unchanged.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections import deque
from collections.abc import Callable

import av
from rtpgate.api import Media, Pipeline, Stage, Stream

from . import dtmf, formats
from .chain import PcmEncoder, channels_of, decoder
from .plan import accepted

KEY = "delay-buffer"
LINEAR = "delay-buffer.linear"
#: Packets held at most (30 s at 50 packets/s); beyond that the oldest goes early.
HELD_MAX = 1500
#: Replacements kept for a transcoding stage (they are taken at once where one follows).
LINEAR_KEPT = 16
#: The modes whose digits are replaced in the held audio.
REPLACING = ("silence", "tone", "zero", "dtmf", "random")
PTIME = 20
#: How far back (in RTP ticks at 8 kHz: 10 s) a noted digit still counts (rtpengine's).
CUTOFF_MS = 10_000


def linear(media: Media) -> dict[int, bytes]:
    """The replacements of ``media``'s party's audio the delay stage made (by sequence
    number, s16 mono at the codec's rate), for a transcoding stage after it to encode in
    place of the packet's own audio (made on first use)."""
    found = media.plugin_state.get(LINEAR)
    if not isinstance(found, dict):
        found = media.plugin_state[LINEAR] = {}
    return found


def in_digit(marks: list[tuple[int, int]], ts: int, clock: int, head: int,
             trail: int) -> int | None:
    """The digit (event code + 1) whose span, widened by ``head`` ms before its start and
    ``trail`` ms after its end, holds timestamp ``ts``; ``None`` outside every digit.
    ``marks`` are (code + 1, timestamp) for starts and (0, timestamp) for ends, in order."""
    cutoff = clock * CUTOFF_MS // 1000
    start_ts = (ts + head * clock // 1000) & 0xFFFFFFFF
    end_ts = (ts - trail * clock // 1000) & 0xFFFFFFFF
    for code, mark in reversed(marks):
        diff = ((start_ts if code else end_ts) - mark) & 0xFFFFFFFF
        if diff >= 0x80000000 or (not code and diff == 0):
            continue  # the mark lies after this packet (or ends exactly at it): look further
        if diff <= cutoff:
            return code or None
        return None
    return None


class DelayStage:
    """Holds one party's RTP ``delay`` ms and replaces the digits in it on the way out."""

    name = KEY

    def __init__(self, stream: Stream, codec: formats.AudioCodec, pt: int, fmtp: str,
                 events: dict[int, int], resume: Callable[[bytes, Stage], None]) -> None:
        self.error = False
        self.stream = stream
        self.delay = 0
        self.codec, self.pt, self.events = codec, pt, events
        self.peer_events = False  #: the peer has telephone-event (digits become silence)
        self._resume = resume
        self._channels = channels_of(codec, fmtp)
        self._fmtp = fmtp
        self._decoder: av.AudioCodecContext | None = None
        self._resampler: av.AudioResampler | None = None
        self._encoder = PcmEncoder(codec, self._channels, PTIME, fmtp)
        self._detector = dtmf.Detector()
        self._present_end: int | None = None  # end of the last packet carrying the digit
        self.marks: list[tuple[int, int]] = []  #: (code + 1 | 0 for an end, timestamp)
        self._held: deque[tuple[float, bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._last_audio: tuple[int, int, int] | None = None  # (seq, ts, samples)
        self.peer_event_pt: int | None = None  #: the peer's telephone-event at our clock
        #: ``DTMF-delay``: the digit being played again (code + 1, its first timestamp)
        self._playing: tuple[int, int] | None = None
        self._volume = 10  # of the last event (in-band digits: 10)
        #: sequence numbers added by the end packets played again so far
        self._seq_shift = 0
        self._seq_shift_next = 0
        self.replaced = 0

    # -- arrival --------------------------------------------------------------------------

    def rtp(self, data: bytes) -> bytes | None:
        self.error = False
        if len(data) < 12 or data[0] & 0x10:
            return self._hold(data)
        header = 12 + 4 * (data[0] & 0x0F)
        pt = data[1] & 0x7F
        ts = int.from_bytes(data[4:8], "big")
        if pt in self.events and len(data) >= header + 4:
            code, flags, duration = struct.unpack_from("!BBH", data, header)
            self._volume = flags & 0x3F
            if flags & 0x80:
                self._mark(0, (ts + duration - 1) & 0xFFFFFFFF)
            else:
                self._mark(code + 1, ts)
        elif pt == self.pt and len(data) > header:
            self._detect(data[header:], ts)
        return self._hold(data)

    def rtcp(self, data: bytes) -> bytes | None:
        return data

    def _mark(self, code: int, ts: int) -> None:
        if code and self.marks and self.marks[-1][0] == code:
            return  # the same digit goes on
        self.marks.append((code, ts))
        del self.marks[:-32]

    def _detect(self, payload: bytes, ts: int) -> None:
        if not self.codec.bytes_per_ms or self.codec.coded_bits or self.codec.decoder is None:
            return
        try:
            pcm = self._decode(payload)
        except (av.FFmpegError, ValueError):
            return
        was = self._detector.digit
        now = self._detector.feed(pcm)
        ticks = self.codec.ticks(len(pcm) // 2 * self.codec.rate // 8000)
        end = (ts + ticks) & 0xFFFFFFFF
        if self._detector.found is not None:
            self._present_end = end
        if now is not None and now != was:
            self._mark(now + 1, end)
        elif now is None and was is not None:
            self._mark(0, self._present_end if self._present_end is not None else ts)

    def _decode(self, payload: bytes) -> bytes:
        """8 kHz mono s16 of one payload."""
        if self._decoder is None:
            self._decoder = decoder(self.codec, self._channels, self._fmtp)
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
        assert self._resampler is not None
        out = b""
        for frame in self._decoder.decode(av.Packet(payload)):
            for made in self._resampler.resample(frame):
                out += bytes(made.planes[0])[:made.samples * 2]
        return out

    # -- holding and release --------------------------------------------------------------

    def _hold(self, data: bytes) -> bytes | None:
        if len(self._held) >= HELD_MAX:  # a delay longer than memory should hold: go early
            self._release(self._held.popleft()[1])
        self._held.append((time.monotonic() + self.delay / 1000, data))
        self._schedule()
        return None

    def _schedule(self) -> None:
        if self._timer is not None or not self._held:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop (a stage driven by hand)
            return
        self._timer = loop.call_at(loop.time() + max(self._held[0][0] - time.monotonic(), 0),
                                   self._due)

    def _due(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._held and self._held[0][0] <= now + 0.0005:
            self._release(self._held.popleft()[1])
        self._schedule()

    def flush(self) -> None:
        """Everything held goes now (``delay-buffer`` back to 0), the last as it is."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._held:
            self._release(self._held.popleft()[1])

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._held.clear()

    def _release(self, data: bytes) -> None:
        for out in self._replaced(data):
            if self._seq_shift and len(out) >= 12:
                seq = (int.from_bytes(out[2:4], "big") + self._seq_shift) & 0xFFFF
                out = out[:2] + seq.to_bytes(2, "big") + out[4:]
            self._resume(out, self)
        self._seq_shift, self._seq_shift_next = self._seq_shift + self._seq_shift_next, 0

    def _replaced(self, data: bytes) -> list[bytes]:
        if len(data) < 12 or data[0] & 0x10:
            return [data]
        pt = data[1] & 0x7F
        header = 12 + 4 * (data[0] & 0x0F)
        seq = int.from_bytes(data[2:4], "big")
        ts = int.from_bytes(data[4:8], "big")
        audio = pt == self.pt
        if audio:
            samples = self._samples(len(data) - header)
            self._last_audio = (seq, ts, samples)
        elif pt not in self.events:
            return [data]
        elif self._last_audio is not None:  # an event: its place on the audio's timeline
            last_seq, last_ts, samples = self._last_audio
            ts = (last_ts + ((seq - last_seq) & 0xFFFF) * samples) & 0xFFFFFFFF
        else:
            samples = self.codec.samples(PTIME)
        control = self.stream.media.monologue.control
        state = self.stream.media.monologue.dtmf_blocking()
        mode = state.dtmf_mode if state is not None else "off"
        if mode == "off" and control.dtmf_delay > 0:
            return self._delayed_digit(data, header, seq, ts, samples, control.dtmf_delay)
        if mode not in REPLACING or self.codec.encoder is None:
            return [data]
        if not audio and mode not in ("silence", "tone"):
            return [data]  # the events themselves: core's control rewrites them
        code = in_digit(self.marks, ts, self.codec.clock, self.delay, self.delay)
        if code is None:
            return [data]
        assert state is not None
        if mode == "silence" or (mode in ("zero", "dtmf") and self.peer_events):
            pcm = bytes(samples * 2)
        elif mode == "tone":
            pcm = dtmf.sine(state.tone_frequency, ts * self.codec.rate // self.codec.clock,
                             samples, self.codec.rate, state.tone_volume)
        else:
            digit = state.dtmf_digit if mode == "dtmf" else 0
            if mode == "random":
                digit = (ts * 2654435761 >> 16) % 10
            pcm = dtmf.tone(digit, ts * self.codec.rate // self.codec.clock, samples,
                            self.codec.rate, state.tone_volume)
        return self._audio(data, header, seq, ts, pcm)

    def _audio(self, data: bytes, header: int, seq: int, ts: int, pcm: bytes) -> list[bytes]:
        """``data`` as an audio packet of ``pcm`` at ``ts`` (unchanged if it cannot be)."""
        if self.codec.encoder is None:
            return [data]
        payload = self._encoder.encode(pcm)
        if not payload:
            return [data]
        if self._channels == 1:
            kept = linear(self.stream.media)
            kept[seq] = pcm
            while len(kept) > LINEAR_KEPT:
                del kept[next(iter(kept))]
        self.replaced += 1
        return [data[:1] + bytes([self.pt]) + data[2:4] + ts.to_bytes(4, "big")
                + data[8:header] + payload]

    def _delayed_digit(self, data: bytes, header: int, seq: int, ts: int, samples: int,
                       dtmf_delay: int) -> list[bytes]:
        """``DTMF-delay``: where a digit was, silence; ``dtmf_delay`` ms later the digit
        again, as RFC 4733 events where the peer has telephone-event (from the packet's
        place on the audio's timeline, the duration growing by each packet's length, the end
        packet three times: later packets' sequence numbers move on by two), else as its
        tones in the audio."""
        clock = self.codec.clock
        shift = dtmf_delay * clock // 1000
        sending = in_digit(self.marks, (ts - shift) & 0xFFFFFFFF, clock, 0, 0)
        playing = self._playing
        if sending is not None and self.peer_event_pt is not None:
            first = playing is None or playing[0] != sending
            if first:
                playing = self._playing = (sending, ts)
            assert playing is not None
            return [self._event(data, seq, playing, (ts + samples - playing[1]) & 0xFFFFFFFF,
                                first, False)]
        if playing is not None:  # the digit played is over
            self._playing = None
            duration = (ts + samples - playing[1]) & 0xFFFFFFFF
            ends = [self._event(data, (seq + n) & 0xFFFF, playing, duration, False, True)
                    for n in range(3)]
            self._seq_shift_next = 2
            return ends
        if sending is not None:
            pcm = dtmf.tone(sending - 1, ts * self.codec.rate // clock, samples,
                            self.codec.rate, self._volume)
            return self._audio(data, header, seq, ts, pcm)
        if in_digit(self.marks, ts, clock, self.delay, self.delay) is not None:
            return self._audio(data, header, seq, ts, bytes(samples * 2))
        return [data]

    def _event(self, data: bytes, seq: int, playing: tuple[int, int], duration: int,
               first: bool, end: bool) -> bytes:
        assert self.peer_event_pt is not None
        return (bytes([0x80, (0x80 if first else 0) | self.peer_event_pt])
                + seq.to_bytes(2, "big") + playing[1].to_bytes(4, "big") + data[8:12]
                + dtmf.event_payload(playing[0] - 1, end, self._volume, duration))

    def _samples(self, size: int) -> int:
        if self.codec.bytes_per_ms:
            return self.codec.rate * size // self.codec.bytes_per_ms // 1000
        return self.codec.samples(PTIME)


class DelayFactory:
    """A :class:`rtpgate.api.PipelineFactory`: the delay stage on the RTP of a party whose
    ``delay-buffer`` is above 0, kept in the media's ``plugin_state`` while the codec stays;
    when it drops to 0 what is held goes at once and the stage goes."""

    def __init__(self, resume: Callable[[Stream, bytes, Stage], None]) -> None:
        self._resume = resume

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        media = stream.media
        delay = media.monologue.control.delay_buffer
        stage = media.plugin_state.get(KEY)
        if stream.is_rtcp:
            return None
        if delay <= 0 or not isinstance(stage, DelayStage) or stage.stream is not stream:
            if isinstance(stage, DelayStage):
                media.plugin_state.pop(KEY, None)
                if stage.stream is stream:
                    # now, through the stages after it in the pipeline still in place, as a
                    # timer's release would: a packet the party sends right after the
                    # command must not overtake what was held
                    stage.flush()
                else:  # another stream's: after this sync, through the pipeline that follows
                    _later(stage.flush)
            if delay <= 0:
                return None
            stage = self._stage(stream)
            if stage is None:
                return None
            media.plugin_state[KEY] = stage
        stage.delay = delay
        peer = media.monologue.peers[0] if media.monologue.peers else None
        peer_media = peer.media(media.index) if peer is not None else None
        peer_events = [c for c in accepted(peer_media) if c.name == "telephone-event"] \
            if peer_media is not None else []
        stage.peer_events = bool(peer_events)
        stage.peer_event_pt = next((c.pt for c in peer_events if c.encoding.split("/")[1:2]
                                    == [str(stage.codec.clock)]), None)
        return Pipeline(ingress=(stage,))

    def _stage(self, stream: Stream) -> DelayStage | None:
        sends = accepted(stream.media)
        events = {c.pt: int(c.encoding.split("/")[1]) for c in sends
                  if c.name == "telephone-event" and c.encoding.count("/") >= 1
                  and c.encoding.split("/")[1].isdigit()}
        audio = next(((c, found) for c in sends if not c.supplemental
                      and (found := formats.find(c.encoding)) is not None), None)
        if audio is None:
            return None
        codec, found = audio
        events = {pt: clock for pt, clock in events.items() if clock == found.clock}
        send_on = self._resume
        return DelayStage(stream, found, codec.pt, codec.fmtp, events,
                          lambda data, stage: send_on(stream, data, stage))


def _later(flush: Callable[[], None]) -> None:
    try:
        asyncio.get_running_loop().call_soon(flush)
    except RuntimeError:
        flush()


_: type[Stage] = DelayStage  # checks that the stage fits the pipeline's protocol
