"""``block DTMF`` before the codec path: a blocked party's RFC 4733 events become audio
(``DTMF-security=silence|tone``), or are dropped or get another digit before the transcoding
stage can play them as tones.

rtpengine replaces a blocked DTMF event with audio in the party's own codec: silence, or a
single tone (``frequency``, default 400 Hz, at ``volume``, default 10 -dBm0).  Core's media
control only drops or rewrites events (``drop``, ``zero``, ``DTMF``, ``random``); this
ingress stage, on the RTP of a party whose DTMF is blocked in one of these two modes, turns
each event packet into an audio packet of the party's codec (its sequence number and SSRC,
the timestamp where the event's new part starts, as many samples as the event grew by;
retransmitted end packets give nothing), and fills audio the party sends during an event with
the same, so nothing of the digit gets through in-band either.  It runs before the other
media stages, so a transcoded call transcodes the replacement like any audio.

Core's media control drops or rewrites events after the ingress stages, which is too late
where the transcoding stage turns a party's events into in-band tones for a peer without
telephone-event: on a transcoding media this stage also applies ``drop`` (the default),
``zero``, ``DTMF`` and ``random`` to the events first (the same rewrite as core's, so doing it
twice changes nothing).
"""

from __future__ import annotations

import struct

from rtpgate.api import MF_TRANSCODING, Pipeline, Stage, Stream

from . import dtmf, formats
from .chain import PcmEncoder, channels_of
from .plan import accepted

KEY = "dtmf-security"
MODES = ("silence", "tone")
#: Modes core's control applies, which this stage applies first on a transcoding media.
EVENT_MODES = ("drop", "zero", "dtmf", "random")
PTIME = 20


class SecurityStage:
    """Events and in-event audio of one party, replaced by silence or a tone."""

    name = KEY

    def __init__(self, mode: str, frequency: int, volume: int, events: dict[int, int],
                 codec: formats.AudioCodec, pt: int, fmtp: str, digit: int = 0) -> None:
        self.error = False
        self.mode, self.frequency, self.volume = mode, frequency, volume
        self.digit = 0 if mode == "zero" else digit
        self.events = events  #: telephone-event payload type -> clock rate
        self.codec, self.pt = codec, pt
        self._encoder = PcmEncoder(codec, channels_of(codec, fmtp), PTIME, fmtp)
        self._start: int | None = None  # timestamp of the event being replaced
        self._done = 0  # its ticks replaced so far
        self._ended = False
        self.key = (mode, frequency, volume, tuple(sorted(events.items())), pt, fmtp, digit)
        self.replaced = 0

    def rtp(self, data: bytes) -> bytes | None:
        self.error = False
        pt = data[1] & 0x7F
        if pt in self.events:
            if self.mode in EVENT_MODES:
                return self._replaced(data)
            return self._event(data)
        if pt == self.pt and self._start is not None:
            return self._audio(data)
        return data

    def rtcp(self, data: bytes) -> bytes | None:
        return data

    def _replaced(self, data: bytes) -> bytes | None:
        """``drop``, or the event with another code (``random``: one per event, from its
        timestamp, as core's control chooses it)."""
        if self.mode == "drop" or len(data) < 16 or data[0] & 0x1F:
            return None
        code = self.digit
        if self.mode == "random":
            code = (int.from_bytes(data[4:8], "big") * 2654435761 >> 16) % 16
        return data[:12] + bytes([code]) + data[13:]

    def _event(self, data: bytes) -> bytes | None:
        header = 12 + 4 * (data[0] & 0x0F)
        if len(data) < header + 4 or data[0] & 0x10 or self.events[data[1] & 0x7F] \
                != self.codec.clock:
            return None  # extensions, short payloads or another clock: dropped
        timestamp = int.from_bytes(data[4:8], "big")
        _, flags, duration = struct.unpack_from("!BBH", data, header)
        if timestamp != self._start:
            self._start, self._done, self._ended = timestamp, 0, False
        self._ended = self._ended or bool(flags & 0x80)
        if duration <= self._done:
            return None  # a retransmission, or covered by the party's own audio
        begin = self._done
        self._done = duration
        return self._packet(data[:header], (timestamp + begin) & 0xFFFFFFFF, begin,
                            duration - begin)

    def _audio(self, data: bytes) -> bytes | None:
        assert self._start is not None
        header = 12 + 4 * (data[0] & 0x0F)
        timestamp = int.from_bytes(data[4:8], "big")
        offset = (timestamp - self._start) & 0xFFFFFFFF
        if offset >= 0x80000000 or (self._ended and offset >= self._done) or data[0] & 0x10:
            if offset < 0x80000000 and self._ended:
                self._start = None  # the event is over: audio flows again
            return data
        if self.codec.bytes_per_ms:
            ticks = self.codec.ticks(self.codec.rate * (len(data) - header)
                                     // self.codec.bytes_per_ms // 1000)
        else:
            ticks = self.codec.ticks(self.codec.samples(PTIME))
        self._done = max(self._done, offset + ticks)
        return self._packet(data[:header], timestamp, offset, ticks)

    def _packet(self, header: bytes, timestamp: int, offset: int, ticks: int) -> bytes | None:
        samples = ticks * self.codec.rate // self.codec.clock
        if not self.codec.bytes_per_ms:  # a frame codec: one encoder frame per packet
            samples = self.codec.samples(PTIME)
        start = offset * self.codec.rate // self.codec.clock
        payload = self._encoder.encode(self._fill(start, samples))
        if not payload:
            return None
        self.replaced += 1
        return (header[:1] + bytes([header[1] & 0x80 | self.pt]) + header[2:4]
                + timestamp.to_bytes(4, "big") + header[8:] + payload)

    def _fill(self, start: int, count: int) -> bytes:
        if self.mode == "silence":
            return bytes(count * 2)
        return dtmf.sine(self.frequency, start, count, self.codec.rate, self.volume)


class SecurityFactory:
    """A :class:`rtpgate.api.PipelineFactory`: the stage on the RTP of a party whose DTMF
    is blocked with ``silence`` or ``tone`` and who negotiated telephone-event and a codec
    this plugin can encode; nothing otherwise.  Kept in the media's ``plugin_state`` while
    its parameters stay the same."""

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        media = stream.media
        state = media.monologue.dtmf_blocking()
        wanted = MODES + (EVENT_MODES if media.flags & MF_TRANSCODING else ())
        if stream.is_rtcp or state is None or state.dtmf_mode not in wanted or (
                state.dtmf_mode in MODES and media.monologue.control.delay_buffer > 0):
            # (with a delay buffer, the delay stage replaces the digits: :mod:`.delay`)
            media.plugin_state.pop(KEY, None)
            return None
        sends = accepted(media)
        events = {c.pt: int(c.encoding.split("/")[1]) for c in sends
                  if c.name == "telephone-event" and c.encoding.count("/") >= 1
                  and c.encoding.split("/")[1].isdigit()}
        audio = next(((c, found) for c in sends if not c.supplemental
                      and (found := formats.find(c.encoding)) is not None
                      and found.encoder is not None), None)
        if not events or audio is None:
            media.plugin_state.pop(KEY, None)
            return None
        codec, found = audio
        key = (state.dtmf_mode, state.tone_frequency, state.tone_volume,
               tuple(sorted(events.items())), codec.pt, codec.fmtp, state.dtmf_digit)
        stage = media.plugin_state.get(KEY)
        if not isinstance(stage, SecurityStage) or stage.key != key:
            stage = SecurityStage(state.dtmf_mode, state.tone_frequency, state.tone_volume,
                                  events, found, codec.pt, codec.fmtp, state.dtmf_digit)
            media.plugin_state[KEY] = stage
        return Pipeline(ingress=(stage,))


_: type[Stage] = SecurityStage  # checks that the stage fits the pipeline's protocol
