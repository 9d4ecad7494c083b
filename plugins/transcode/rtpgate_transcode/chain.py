"""One codec chain: RTP packets of one codec in, RTP packets of another codec out.

decode (FFmpeg) -> resample to the output codec's rate and channels -> FIFO -> encode one
ptime at a time -> packetise on rtpgate's own stream (:class:`~rtpgate_transcode.rtp.
OutputStream`: its SSRC, sequence numbers and timestamps).  The output timestamp of each packet
follows the input timestamps (scaled between the clock rates), so a gap in the input (loss, a
talkspurt starting) is a gap in the output and not a drift; what is left in the FIFO at a gap
is dropped.  A payload FFmpeg cannot decode is dropped and counted (:attr:`CodecChain.errors`).
"""

from __future__ import annotations

import logging
import time
from fractions import Fraction
from typing import cast

import av
import av.error

from . import dtmf
from .amr import NO_DATA, AmrFormat
from .amr_modes import CodecOptions, ModeChanger, ModeRequest
from .cn import Noise, silent
from .formats import AudioCodec
from .rtp import OutputStream, RtpPacket

log = logging.getLogger("rtpgate.transcode")


def channels_of(codec: AudioCodec, fmtp: str) -> int:
    """Audio channels: opus is stereo only with ``stereo=1`` (RFC 7587 7.1)."""
    if codec.name.lower() == "opus":
        params = {k.strip().lower(): v.strip() for k, _, v in
                  (p.partition("=") for p in fmtp.split(";"))}
        return 2 if params.get("stereo") == "1" else 1
    return 1


def _layout(channels: int) -> str:
    return "stereo" if channels == 2 else "mono"


def fmtp_params(fmtp: str) -> dict[str, str]:
    return {k.strip().lower(): v.strip() for k, _, v in
            (p.partition("=") for p in fmtp.split(";")) if k.strip()}


def ilbc_frame(fmtp: str) -> int:
    """Bytes of one iLBC frame: 38 for ``mode=20``, else 50 (30 ms, RFC 3952 5)."""
    return 38 if fmtp_params(fmtp).get("mode") == "20" else 50


def amr_format(codec: AudioCodec, fmtp: str) -> AmrFormat | None:
    if codec.framing in ("amr", "amr-wb"):
        return AmrFormat.of(codec.framing == "amr-wb", fmtp)
    return None


def decoder(codec: AudioCodec, channels: int, fmtp: str = "") -> av.AudioCodecContext:
    assert codec.decoder is not None
    ctx = cast(av.AudioCodecContext, av.CodecContext.create(codec.decoder, "r"))
    ctx.sample_rate = codec.rate
    ctx.layout = _layout(channels)
    if codec.bit_rate:
        ctx.bit_rate = codec.bit_rate
    if codec.framing == "ilbc":  # the decoder's mode comes from the block size
        ctx.options = {"block_align": str(ilbc_frame(fmtp))}
    if codec.coded_bits:
        ctx.options = {"bits_per_coded_sample": str(codec.coded_bits)}
    ctx.open()
    return ctx


def encoder(codec: AudioCodec, channels: int, ptime: int, fmtp: str,
            bitrate: int | None = None) -> av.AudioCodecContext:
    """An encoder for ``codec``; ``bitrate`` is the one asked for (``codec-set``), where
    the codec has a choice."""
    assert codec.encoder is not None
    ctx = cast(av.AudioCodecContext, av.CodecContext.create(codec.encoder, "w"))
    ctx.sample_rate = codec.rate
    ctx.layout = _layout(channels)
    ctx.format = "s16"
    ctx.time_base = Fraction(1, codec.rate)
    if codec.bit_rate:
        ctx.bit_rate = codec.bit_rate
    amr = amr_format(codec, fmtp)
    if amr is not None:
        ctx.bit_rate = amr.bitrate(bitrate)
    elif bitrate and codec.name.lower() == "opus":
        ctx.bit_rate = bitrate
    if codec.name.lower() == "opus":
        options = {"frame_duration": str(ptime), "application": "voip"}
        if "useinbandfec=1" in fmtp.replace(" ", ""):
            options["fec"] = "1"
        ctx.options = options
    ctx.open()
    return ctx


class PcmEncoder:
    """s16 audio into one codec's payload, packet by packet: mono audio is put on both
    channels of a stereo codec, frames are numbered on from 0, and the encoder is opened at
    the first packet (a stage that may never replace anything costs no encoder)."""

    def __init__(self, codec: AudioCodec, channels: int, ptime: int, fmtp: str) -> None:
        self.codec, self.channels, self._ptime, self._fmtp = codec, channels, ptime, fmtp
        self._encoder: av.AudioCodecContext | None = None
        self._pts = 0

    def encode(self, pcm: bytes) -> bytes:
        if self._encoder is None:
            self._encoder = encoder(self.codec, self.channels, self._ptime, self._fmtp)
        samples = len(pcm) // 2
        if self.channels == 2:
            pcm = b"".join(pcm[i:i + 2] * 2 for i in range(0, len(pcm), 2))
        frame = av.AudioFrame(format="s16", layout=_layout(self.channels), samples=samples,
                              align=1)
        frame.sample_rate = self.codec.rate
        frame.time_base = Fraction(1, self.codec.rate)
        frame.planes[0].update(pcm)
        frame.pts = self._pts
        self._pts += samples
        return b"".join(bytes(p) for p in self._encoder.encode(frame))


class CodecChain:
    """Transcodes the RTP of one input codec into ``out`` on ``stream``."""

    def __init__(self, source: AudioCodec, source_fmtp: str, out: AudioCodec, out_fmtp: str,
                 stream: OutputStream, ptime: int = 20, detect_dtmf: bool = False,
                 bitrate: int | None = None, heard: ModeRequest | None = None,
                 asked: ModeRequest | None = None, options: CodecOptions | None = None
                 ) -> None:
        """``heard`` keeps the CMRs of the AMR received (and, with ``options``, the AMR
        codec options of the input, what they decide); ``asked`` holds those of the party
        receiving the output, which set the bitrate and the CMRs of AMR sent to it."""
        self.source = source
        self.out = out
        self.stream = stream
        self.ptime = ptime
        in_channels = channels_of(source, source_fmtp)
        out_channels = channels_of(out, out_fmtp)
        self._decoder = decoder(source, in_channels, source_fmtp)
        self._encoder = encoder(out, out_channels, ptime, out_fmtp, bitrate)
        self._amr_in = amr_format(source, source_fmtp)
        self._amr_out = amr_format(out, out_fmtp)
        self._heard = heard if self._amr_in is not None else None
        self._options = options
        self._changer = ModeChanger(self._amr_out, asked) if self._amr_out is not None \
            else None
        self._ilbc = ilbc_frame(source_fmtp) if source.framing == "ilbc" else 0
        #: AMR frames waiting to fill one ptime, and the ticks of the first
        self._amr_frames: list[bytes] = []
        self._amr_ticks = 0
        #: Silence towards a party with CN goes out as CN (:meth:`send_cn_for_silence`).
        self._cn_pt = -1
        self._cn_payload = b""
        self._silence = 0
        self._noise: Noise | None = None
        #: ``--amr-dtx=CN``: SID frames become silence (b"") or noise of these CN parameters
        self._sid: bytes | None = None
        self._sid_noise: Noise | None = None
        #: samples (at the input's rate) the last packet decoded to
        self.last_samples = 0
        self._resampler = av.AudioResampler(format="s16", layout=_layout(out_channels),
                                            rate=out.rate)
        self._fifo = av.AudioFifo()
        self._out_channels = out_channels
        #: In-band DTMF detection (8 kHz mono) on what is decoded, when asked for.
        self.detector = dtmf.Detector() if detect_dtmf else None
        self._detect_resampler = (av.AudioResampler(format="s16", layout="mono", rate=8000)
                                  if detect_dtmf else None)
        self._detect_buffer = b""
        self._chunk = self._encoder.frame_size or out.samples(ptime)
        #: packets one encoder frame can make at most (G.726's large frames: many at once)
        self.burst = max(1, -(-self._chunk // out.samples(ptime)))
        self._bytes = out.bytes_per_ms * ptime
        self._encoded = b""
        self._pts = 0
        #: Input timestamp expected next, and the output position (RTP ticks) of the FIFO's
        #: first sample.
        self._next_in: int | None = None
        self._fifo_ticks = 0
        self._origin: int | None = None
        self.errors = 0
        self.packets_in = 0
        self.packets_out = 0

    def process(self, packet: RtpPacket, audio: bytes | None = None) -> list[bytes]:
        """The RTP packets ready after ``packet`` (none, one, or more at a ptime change);
        ``audio`` (s16 mono at the source's rate) is used in place of the packet's own (a
        delay buffer's replacement, made before any encoding)."""
        self.packets_in += 1
        if audio is not None:
            self.last_samples = len(audio) // 2
            self._place(packet.timestamp, self.last_samples)
            self._fifo.write(self._out_frame(audio, self.source.rate))
            return self._drain()
        try:
            parts = self._split(packet.payload)
        except ValueError as exc:  # bad framing
            return self._undecodable(exc)
        if self._heard is not None:
            self._heard.heard(packet.payload, time.monotonic(), self._options, self._amr_in,
                              [(part[0] >> 3) & 0x0F for part in parts])
        return self._decode(packet.timestamp, parts)

    def _undecodable(self, exc: Exception) -> list[bytes]:
        self.errors += 1
        if self.errors == 1 or self.errors % 1000 == 0:
            log.warning("%s payload not decodable (%d so far): %s", self.source.name,
                        self.errors, exc)
        return []

    def _decode(self, timestamp: int, parts: list[bytes]) -> list[bytes]:
        """Decode ``parts`` (the decoder's packets of one RTP payload at ``timestamp``) into
        the FIFO; AMR SID frames become a frame time of silence or noise where
        ``--amr-dtx=CN`` says so (:meth:`replace_sid`)."""
        decoded: list[av.AudioFrame | bytes] = []
        try:
            for data in parts:
                if self._sid is not None and self._amr_in is not None \
                        and self._amr_in.is_sid(data):
                    decoded.append(self._sid_audio())
                    continue
                decoded += self._decoder.decode(av.Packet(data))
        except av.error.FFmpegError as exc:
            return self._undecodable(exc)
        if not decoded:
            return []
        self.last_samples = sum(f.samples if isinstance(f, av.AudioFrame)
                                else len(f) // 2 for f in decoded)
        self._place(timestamp, self.last_samples)
        for frame in decoded:
            if not isinstance(frame, av.AudioFrame):
                self._fifo.write(self._out_frame(frame, self.source.rate))
                continue
            frame.pts = None
            if self._detect_resampler is not None:
                self._detect(frame)
            for resampled in self._resampler.resample(frame):
                self._fifo.write(resampled)
        return self._drain()

    def replace_sid(self, params: bytes | None) -> None:
        """``--amr-dtx=CN``: AMR SID frames are not decoded but replaced by 20 ms of silence
        (``params`` None) or of comfort noise of those CN parameters, as rtpengine does."""
        self._sid = params if params is not None else b""

    def _sid_audio(self) -> bytes:
        count = self.source.samples(20)
        if not self._sid:
            return bytes(count * 2)
        if self._sid_noise is None:
            self._sid_noise = Noise(self.source.rate)
        return self._sid_noise.take(count, self._sid)

    def _out_frame(self, pcm: bytes, rate: int) -> av.AudioFrame:
        """s16 mono ``pcm`` at ``rate`` as a frame for the FIFO (the output's rate and
        channels: resampled here when the rates differ)."""
        if rate != self.out.rate:
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2, align=1)
            frame.sample_rate = rate
            frame.planes[0].update(pcm)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=self.out.rate)
            pcm = b"".join(bytes(f.planes[0])[:f.samples * 2]
                           for f in (*resampler.resample(frame), *resampler.resample(None)))
        if self._out_channels == 2:
            mono = memoryview(pcm).cast("h")
            pcm = b"".join(int(v).to_bytes(2, "little", signed=True) * 2 for v in mono)
        frame = av.AudioFrame(format="s16", layout=_layout(self._out_channels),
                              samples=len(pcm) // (2 * self._out_channels), align=1)
        frame.sample_rate = self.out.rate
        frame.planes[0].update(pcm)
        return frame

    def conceal(self, timestamp: int, ms: int) -> list[bytes]:
        """``ms`` of a DTX gap at ``timestamp`` (input RTP clock) made by an AMR decoder
        itself: a NO_DATA frame per 20 ms, from which libopencore makes concealment or the
        comfort noise of the last SID (rtpengine's native AMR DTX)."""
        assert self._amr_in is not None
        return self._decode(timestamp, [bytes([NO_DATA << 3])] * max(1, ms // 20))

    @property
    def amr_in(self) -> bool:
        """Whether the input is AMR or AMR-WB."""
        return self._amr_in is not None

    def _split(self, payload: bytes) -> list[bytes]:
        """The decoder's packets in one RTP payload."""
        if self._amr_in is not None:
            return self._amr_in.frames(payload)
        if self._ilbc:
            if not payload or len(payload) % self._ilbc:
                raise ValueError(f"iLBC payload of {len(payload)} bytes")
            return [payload[i:i + self._ilbc] for i in range(0, len(payload), self._ilbc)]
        return [payload]

    def _detect(self, frame: av.AudioFrame) -> None:
        assert self._detect_resampler is not None and self.detector is not None
        for low in self._detect_resampler.resample(frame):
            self._detect_buffer += bytes(low.planes[0])[:low.samples * 2]
        while len(self._detect_buffer) >= 320:
            self.detector.feed(self._detect_buffer[:320])
            self._detect_buffer = self._detect_buffer[320:]

    def inject(self, timestamp: int, ticks: int, offset: int, event: int, volume: int
               ) -> list[bytes]:
        """The tone of a DTMF ``event`` in place of the input from ``timestamp`` (input RTP
        clock) for ``ticks``; ``offset`` ticks of it were made before (the tone's phase)."""
        rate = self.out.rate
        count = ticks * rate // self.source.clock
        self._place(timestamp, ticks * self.source.rate // self.source.clock)
        samples = dtmf.tone(event, offset * rate // self.source.clock, count, rate, volume)
        if self._out_channels == 2:
            mono = memoryview(samples).cast("h")
            samples = b"".join(int(v).to_bytes(2, "little", signed=True) * 2 for v in mono)
        frame = av.AudioFrame(format="s16", layout="stereo" if self._out_channels == 2
                              else "mono", samples=count, align=1)
        frame.sample_rate = rate
        frame.planes[0].update(samples)
        self._fifo.write(frame)
        return self._drain()

    def send_cn_for_silence(self, pt: int, payload: bytes, threshold: int) -> None:
        """From now on an output packet time whose samples are all within ``threshold``
        goes out as a CN packet (payload type ``pt``, ``payload``) instead (rtpengine's
        ``--silence-detect`` towards a party that has CN).  Only where one encoder frame is
        one packet time (not AMR at ptimes over 20 ms, whose packets hold several frames)."""
        if self._chunk == self.out.samples(self.ptime):
            self._cn_pt, self._cn_payload, self._silence = pt, payload, threshold

    def noise(self, timestamp: int, params: bytes | None, ms: int = 0) -> list[bytes]:
        """``ms`` (default: one output packet time) of comfort noise (of the CN ``params``;
        ``None``: silence) in place of the input at ``timestamp`` (input RTP clock): a CN
        packet from a party whose peer has no CN, or a DTX gap filled."""
        ms = ms or self.ptime
        count = self.out.samples(ms)
        self._place(timestamp, self.source.samples(ms))
        if params is None:
            pcm = bytes(count * 2)
        else:
            if self._noise is None:
                self._noise = Noise(self.out.rate)
            pcm = self._noise.take(count, params)
        if self._out_channels == 2:
            mono = memoryview(pcm).cast("h")
            pcm = b"".join(int(v).to_bytes(2, "little", signed=True) * 2 for v in mono)
        frame = av.AudioFrame(format="s16", layout=_layout(self._out_channels), samples=count,
                              align=1)
        frame.sample_rate = self.out.rate
        frame.planes[0].update(pcm)
        self._fifo.write(frame)
        return self._drain()

    def out_ticks(self, timestamp: int) -> int:
        """Where an input timestamp sits on the output's timeline (ticks of the output clock
        from the stream's start): an RFC 4733 event translated to another clock rate goes
        out at the timestamp its audio has."""
        if self._origin is None:
            self._origin = timestamp
        return ((timestamp - self._origin) & 0xFFFFFFFF) * self.out.clock // self.source.clock

    def _place(self, timestamp: int, samples: int) -> None:
        """Anchor the output timeline on the input's: restart the FIFO at a gap or jump."""
        if self._origin is None:
            self._origin = timestamp
        expected = self._next_in
        self._next_in = (timestamp + self.source.ticks(samples)) & 0xFFFFFFFF
        if expected is not None and timestamp == expected:
            return
        offset = (timestamp - self._origin) & 0xFFFFFFFF
        if offset >= 1 << 31:  # before the origin: re-anchor there
            self._origin, offset = timestamp, 0
        ticks = offset * self.out.clock // self.source.clock
        if expected is not None and ticks < self._fifo_ticks:
            # earlier than what went out (a DTX fill ran ahead of the sender): continue from
            # there, the input's timeline moved on by the difference
            back = (self._fifo_ticks - ticks) * self.source.clock // self.out.clock
            self._origin = (self._origin - back) & 0xFFFFFFFF
            ticks = self._fifo_ticks
        if expected is not None:
            self._fifo.read(self._fifo.samples)  # drop the remainder before the gap
            self._encoded = b""
            self._amr_frames = []
        self._fifo_ticks = ticks

    def _drain(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            frame = self._fifo.read(self._chunk)
            if frame is None:
                return out
            ticks = self._fifo_ticks
            self._fifo_ticks += self.out.ticks(self._chunk)
            frame.pts = self._pts
            self._pts += self._chunk
            if self._silence and not self._encoded and silent(
                    bytes(frame.planes[0])[:self._chunk * 2 * self._out_channels],
                    self._silence):
                self.packets_out += 1
                out.append(self.stream.packet(ticks, self._cn_payload, pt=self._cn_pt))
                continue
            if self._changer is not None:  # libopencore reads the bitrate at each frame
                self._encoder.bit_rate = self._changer.next_frame(self._encoder.bit_rate or 0)
            payloads = [bytes(p) for p in self._encoder.encode(frame)]
            if self._bytes:
                self._encoded += b"".join(payloads)
                per = self.out.ticks(self.out.samples(self.ptime))
                # ticks of the first byte still buffered
                start = ticks + self.out.ticks(self._chunk) - \
                    len(self._encoded) * per // self._bytes
                while len(self._encoded) >= self._bytes:
                    payload, self._encoded = (self._encoded[:self._bytes],
                                              self._encoded[self._bytes:])
                    out.append(self._send(start, payload))
                    start += per
            elif self._amr_out is not None:
                for payload in payloads:
                    if not self._amr_frames:
                        self._amr_ticks = ticks
                    self._amr_frames.append(payload)
                    if len(self._amr_frames) * 20 >= self.ptime:
                        cmr = self._changer.cmr() if self._changer is not None else 15
                        out.append(self._send(self._amr_ticks, self._amr_out.payload(
                            self._amr_frames, cmr)))
                        self._amr_frames = []
            else:
                out += [self._send(ticks, payload) for payload in payloads]

    def _send(self, ticks: int, payload: bytes) -> bytes:
        """A packet of transcoded audio (no marker bit, as rtpengine's)."""
        self.packets_out += 1
        return self.stream.packet(ticks, payload)
