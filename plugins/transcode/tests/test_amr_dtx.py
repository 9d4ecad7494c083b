"""AMR's own DTX through a real server (``--amr-dtx``): a sender whose encoder runs with DTX
sends speech, then a SID frame every 160 ms and nothing between; towards a PCMA callee, with
the DTX buffer on, ``native`` has libopencore decode the SID frames and fill the gaps (the
comfort noise the SID describes), ``CN`` replaces both by silence."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np
import pytest
from audio import decode, header, level_db
from rtpgate.testing import ServerProcess
from rtpgate_transcode.amr import AmrFormat
from rtpgate_transcode.rtp import OutputStream
from test_dtx_buffer import contiguous, timed
from test_transcoded_call import call, ng, party

AMR = ("96", "a=rtpmap:96 AMR/8000\r\na=fmtp:96 octet-align=1\r\n")
PCMA = ("8", "a=rtpmap:8 PCMA/8000\r\n")
SILENCE = b"\xd5" * 160


def dtx_stream() -> list[tuple[float, bytes]]:
    """1 s of a 1 kHz tone, then 2 s of faint noise, through libopencore's encoder with DTX:
    each frame but NO_DATA as an RTP packet (octet-aligned) at its time."""
    enc = av.CodecContext.create("libopencore_amrnb", "w")
    enc.sample_rate, enc.layout, enc.format = 8000, "mono", "s16"
    enc.time_base, enc.bit_rate = Fraction(1, 8000), 12200
    enc.options = {"dtx": "1"}
    enc.open()
    signal = (np.sin(2 * np.pi * 1000 * np.arange(24000) / 8000) * 10000).astype(np.int16)
    signal[8000:] = np.random.default_rng(1).normal(0, 30, 16000).astype(np.int16)
    amr, stream = AmrFormat(False, octet_aligned=True), OutputStream(96, 8000)
    out = []
    for n in range(len(signal) // 160):
        frame = av.AudioFrame.from_ndarray(signal[n * 160:(n + 1) * 160].reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, n * 160
        for data in (bytes(p) for p in enc.encode(frame)):
            if (data[0] >> 3) & 0x0F != 15:
                out.append((0.02 * n, stream.packet(n * 160, amr.payload([data]))))
    return out


def dtx_call(rtpgate_server: Callable[..., ServerProcess], *options: str) -> list[bytes]:
    server = rtpgate_server("--delete-delay=0", "--dtx-delay=60", *options)
    caller, callee = party(), party()
    call_id, _, to = call(server, caller, callee, AMR, PCMA, codec={"transcode": ["PCMA"]})
    sent = dtx_stream()
    assert 30 < len(sent) < 80  # speech, then a SID every 8 frames
    got = timed(caller, to, sent, callee, 0.2)
    ng(server, "delete", **{"call-id": call_id})
    packets = [p for _, p in got]
    assert {header(p)[0] for p in packets} == {8}
    contiguous(packets)
    assert len(packets) >= 150, len(packets)  # 3 s: a packet every 20 ms, gaps filled
    assert level_db(decode("PCMA/8000", packets[10:45])) > -25  # the tone
    return packets


def test_native_dtx_decodes_sid_into_comfort_noise(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--amr-dtx=native`` (the default): the SID frames and the gaps between them reach
    the callee as libopencore's comfort noise: faint, but not silence."""
    packets = dtx_call(rtpgate_server)
    quiet = packets[70:145]
    level = level_db(decode("PCMA/8000", quiet))
    assert -80 < level < -40, level
    assert sum(p[12:] != SILENCE for p in quiet) > 60


@pytest.mark.parametrize("params", [[], ["--dtx-cn-params=40"]])
def test_cn_dtx_replaces_sid_by_silence_or_noise(
        rtpgate_server: Callable[..., ServerProcess], params: list[str]) -> None:
    """``--amr-dtx=CN``: SID frames are not decoded; they and the gaps become silence, or
    with ``--dtx-cn-params=40`` noise at -40 dBov."""
    packets = dtx_call(rtpgate_server, "--amr-dtx=CN", *params)
    quiet = packets[70:145]
    if not params:
        assert all(p[12:] == SILENCE for p in quiet)
    else:
        assert -55 < level_db(decode("PCMA/8000", quiet)) < -35


def test_bad_amr_dtx_refuses_to_start() -> None:
    """``--amr-dtx`` other than native or CN stops the server at start-up with rtpengine's
    words (``Invalid --amr-dtx``)."""
    out = subprocess.run([sys.executable, "-m", "rtpgate", "-f", "--amr-dtx=loud",
                          "--listen-http=127.0.0.1:0"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "Invalid --amr-dtx ('loud')" in out.stderr, out.stderr
