"""The codec chain on its own: real codecs (FFmpeg through PyAV), real RTP packets."""

from __future__ import annotations

import itertools

import pytest
from audio import decode, dominant, header, level_db, rtp_packets, sine
from rtpgate_transcode import formats
from rtpgate_transcode.amr import AmrFormat
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


@pytest.mark.parametrize("fmtp", ["octet-align=1", "", "mode-set=0,2,4"])
@pytest.mark.parametrize("ptime", [20, 40])
def test_amr_both_ways(fmtp: str, ptime: int) -> None:
    """PCMU -> AMR (RFC 4867 framing as the fmtp says, ptime/20 frames a packet) -> PCMU:
    the tone survives; the payload sizes are the framing's (12.2 kbit/s: 244 speech bits)."""
    src = formats.find("PCMU/8000")
    amr_codec = formats.find("AMR/8000")
    assert src is not None and amr_codec is not None
    chain = CodecChain(src, "", amr_codec, fmtp, OutputStream(96, 8000), ptime, bitrate=12200)
    amr = [out for data in rtp_packets("PCMU/8000", sine(8000, 1.0), pt=0)
           for out in chain.process(parse(data))]
    assert len(amr) == 1000 // ptime
    frames = ptime // 20
    # mode 7 (12.2) unless the mode set caps it at mode 4 (7.4 kbit/s, 148 bits)
    bits = 148 if "mode-set" in fmtp else 244
    size = (1 + frames + frames * ((bits + 7) // 8) if fmtp == "octet-align=1"
            else (4 + 6 * frames + bits * frames + 7) // 8)
    assert {len(parse(p).payload) for p in amr} == {size}
    heads = [header(p) for p in amr]
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 8 * ptime for a, b in itertools.pairwise(heads))
    samples = steady(decode("AMR/8000", amr, fmtp), 8000)
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    reader = CodecChain(amr_codec, fmtp, src, "", OutputStream(0, 8000))
    back = [p for data in amr for p in reader.process(parse(data))]
    assert reader.errors == 0
    assert len(back) == 50
    samples = steady(decode("PCMU/8000", back), 8000)
    assert abs(dominant(samples, 8000) - 1000) <= 20


def test_amr_framings_carry_the_same_frames() -> None:
    """Bandwidth-efficient and octet-aligned payloads of the same frames read back to them
    (AMR-WB: 253 speech bits at mode 2), and the bit layout is RFC 4867's: CMR 15, F 0, FT."""
    wb_efficient, wb_octet = AmrFormat(True), AmrFormat(True, octet_aligned=True)
    frame = bytes([2 << 3 | 4]) + bytes(range(31)) + b"\xa8"  # 253 bits, 3 zero pad bits
    packed = wb_efficient.payload([frame, frame])
    assert len(packed) == (4 + 12 + 2 * 253 + 7) // 8
    assert packed[0] >> 4 == 15 and (packed[0] >> 3) & 1 == 1  # CMR, F of the first entry
    assert wb_efficient.frames(packed) == [frame, frame]
    octet = wb_octet.payload([frame])
    assert octet[:2] == bytes([0xF0, 2 << 3 | 4]) and octet[2:] == frame[1:]
    assert wb_octet.frames(octet) == [frame]
    with pytest.raises(ValueError):
        wb_efficient.frames(packed[:20])


def test_decode_only_codecs_decode() -> None:
    """AMR-WB and iLBC (no encoder in PyAV's wheels, so no real speech to send here): payloads
    of their framing decode to the right number of samples and come out as PCMU, one packet
    per 20 ms; a payload of the wrong size is counted."""
    wb = AmrFormat(True)
    frame = bytes([2 << 3 | 4]) + bytes(range(31)) + b"\xa8"
    stream = OutputStream(97, 16000)
    packets = [stream.packet(i * 320, wb.payload([frame])) for i in range(25)]
    chain, out = run("AMR-WB/16000", "PCMU/8000", packets, out_pt=0)
    assert chain.errors == 0 and len(out) >= 23
    ilbc = formats.find("iLBC/8000")
    pcmu = formats.find("PCMU/8000")
    assert ilbc is not None and pcmu is not None
    stream = OutputStream(98, 8000)
    chain = CodecChain(ilbc, "mode=30", pcmu, "", OutputStream(0, 8000))
    out = [p for i in range(20) for p in chain.process(parse(stream.packet(
        i * 240, bytes((i * 7 + n) & 0xFF for n in range(50)))))]
    assert chain.errors == 0 and len(out) == 30  # 20 x 30 ms in 20 ms packets
    assert {(b - a) & 0xFFFFFFFF for a, b in itertools.pairwise(header(p)[2] for p in out)
            } == {160}
    chain.process(parse(stream.packet(20 * 240, b"\x00" * 49)))
    assert chain.errors == 1
