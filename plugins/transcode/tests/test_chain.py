"""The codec chain on its own: real codecs (FFmpeg through PyAV), real RTP packets."""

from __future__ import annotations

import itertools

import pytest
from audio import decode, dominant, header, level_db, rtp_packets, sine
from rtpgate_transcode import formats
from rtpgate_transcode.chain import CodecChain
from rtpgate_transcode.rtp import OutputStream, parse

SENT_DB = -10.0 - 3.01  # RMS of a sine at -10 dBFS peak


def run(source: str, out: str, packets: list[bytes], ptime: int = 20, out_pt: int = 96,
        out_fmtp: str = "") -> tuple[CodecChain, list[bytes]]:
    src, dst = formats.find(source), formats.find(out)
    assert src is not None and dst is not None
    chain = CodecChain(src, "", dst, out_fmtp, OutputStream(out_pt, dst.clock), ptime)
    result = []
    for data in packets:
        result += chain.process(parse(data))
    return chain, result


def steady(samples, rate):
    return samples[rate // 10:]  # skip codec start-up


@pytest.mark.parametrize(("source", "out"), [("PCMA/8000", "opus/48000/2"),
                                             ("G722/8000", "PCMU/8000"),
                                             ("PCMU/8000", "G722/8000"),
                                             ("opus/48000/2", "PCMA/8000")])
def test_sine_survives(source: str, out: str) -> None:
    src, dst = formats.find(source), formats.find(out)
    assert src is not None and dst is not None
    packets = rtp_packets(source, sine(src.rate, 1.0), pt=8)
    chain, result = run(source, out, packets)
    assert chain.errors == 0
    assert len(result) >= len(packets) - 2
    samples = steady(decode(out, result), dst.rate)
    assert abs(dominant(samples, dst.rate) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3


def test_ptime_20_to_30() -> None:
    packets = rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8)  # 60 packets of 20 ms
    _chain, result = run("PCMA/8000", "PCMU/8000", packets, ptime=30, out_pt=0)
    assert len(result) == 40
    heads = [header(p) for p in result]
    assert {h[0] for h in heads} == {0}
    assert len({h[3] for h in heads}) == 1
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 240 for a, b in itertools.pairwise(heads))
    assert all(len(parse(p).payload) == 240 for p in result)
    samples = steady(decode("PCMU/8000", result), 8000)
    assert abs(dominant(samples, 8000) - 1000) <= 20


def test_garbage_is_counted_and_dropped() -> None:
    packets = rtp_packets("opus/48000/2", sine(48000, 0.2), pt=96)
    garbage = bytearray(packets[3])
    garbage[12:] = b"\xff" * (len(garbage) - 12)
    chain, result = run("opus/48000/2", "PCMA/8000",
                        [*packets[:3], bytes(garbage), *packets[4:]], out_pt=8)
    assert chain.errors == 1
    assert len(result) >= 6


def test_gap_keeps_timestamps_in_step() -> None:
    packets = rtp_packets("PCMA/8000", sine(8000, 0.4), pt=8)  # 20 packets
    _, result = run("PCMA/8000", "PCMU/8000", packets[:5] + packets[10:], out_pt=0)
    stamps = [header(p)[2] for p in result]
    jumps = [(b - a) & 0xFFFFFFFF for a, b in itertools.pairwise(stamps)]
    assert jumps.count(160 * 6) == 1 and jumps.count(160) == len(jumps) - 1
