"""Test helpers: a sine as RTP packets of a codec, RTP packets decoded back to samples, and the
dominant frequency and level of samples (numpy FFT)."""

from __future__ import annotations

import struct

import av
import numpy as np
from rtpgate_transcode import formats
from rtpgate_transcode.chain import amr_format, decoder, encoder
from rtpgate_transcode.rtp import OutputStream, parse


def sine(rate: int, seconds: float, freq: float = 1000.0, dbfs: float = -10.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 32767 * 10 ** (dbfs / 20)).astype(np.int16)


def rtp_packets(encoding: str, samples: np.ndarray, pt: int, ptime: int = 20,
                fmtp: str = "", start: tuple[int, int] | None = None) -> list[bytes]:
    """``samples`` (mono, at the codec's audio rate) as RTP packets of ``encoding``;
    ``start``: the first (sequence number, timestamp), random if not given."""
    codec = formats.find(encoding)
    assert codec is not None
    enc = encoder(codec, 1, ptime, fmtp)
    amr = amr_format(codec, fmtp)
    stream = OutputStream(pt, codec.clock)
    if start is not None:
        stream.seq, stream.ts_base = start
    per = codec.samples(ptime)
    if enc.frame_size > per:  # G.726: one byte stream in frames of its own size, split
        data = b"".join(bytes(p) for i in range(0, len(samples), enc.frame_size)
                        for p in enc.encode(_frame(samples[i:i + enc.frame_size], codec, i)))
        data += b"".join(bytes(p) for p in enc.encode(None))
        size = codec.bytes_per_ms * ptime
        return [stream.packet(codec.ticks(i * per), data[i * size:(i + 1) * size],
                              marker=i == 0) for i in range(len(samples) // per)]
    out = []
    for i in range(len(samples) // per):
        frame = av.AudioFrame.from_ndarray(samples[i * per:(i + 1) * per].reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate = codec.rate
        frame.pts = i * per
        frames = [bytes(p) for p in enc.encode(frame)]
        payload = amr.payload(frames) if amr is not None else b"".join(frames)
        out.append(stream.packet(codec.ticks(i * per), payload, marker=i == 0))
    return out


def _frame(samples: np.ndarray, codec: formats.AudioCodec, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = codec.rate
    frame.pts = pts
    return frame


def decode(encoding: str, packets: list[bytes], fmtp: str = "") -> np.ndarray:
    """Mono samples at the codec's audio rate (the first channel)."""
    codec = formats.find(encoding)
    assert codec is not None
    channels = 2 if "stereo=1" in fmtp else 1
    dec = decoder(codec, channels, fmtp)
    amr = amr_format(codec, fmtp)
    chunks = []
    for data in packets:
        payload = parse(data).payload
        for frame in (f for part in (amr.frames(payload) if amr is not None else [payload])
                      for f in dec.decode(av.Packet(part))):
            samples = (frame.to_ndarray().reshape(-1, channels)[:, 0]
                       if frame.format.is_packed else frame.to_ndarray()[0])
            # float decoders (AMR) give -1..1: the s16 scale, as the others
            scale = 32768.0 if frame.format.name.startswith("flt") else 1.0
            chunks.append(samples.astype(np.float64) * scale)
    return np.concatenate(chunks)


def dominant(samples: np.ndarray, rate: int) -> float:
    window = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def level_db(samples: np.ndarray) -> float:
    """RMS level in dBFS (a full-scale sine is -3 dB)."""
    rms = float(np.sqrt(np.mean(np.square(samples / 32768.0))))
    return 20 * np.log10(max(rms, 1e-12))


def header(data: bytes) -> tuple[int, int, int, int]:
    """(pt, seq, timestamp, ssrc)."""
    _, second, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    return second & 0x7F, seq, ts, ssrc


def in_sequence(packets: list[bytes]) -> list[bytes]:
    """``packets`` in the order of their sequence numbers, across the wrap at 65535 (counted
    from the first received, allowing for up to 1,000 received late)."""
    if not packets:
        return []
    base = (header(packets[0])[1] - 1000) & 0xFFFF
    return sorted(packets, key=lambda p: (header(p)[1] - base) & 0xFFFF)
