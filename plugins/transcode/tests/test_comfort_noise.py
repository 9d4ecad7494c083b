"""Comfort noise (RFC 3389) and DTX through a real server: CN consumed into noise, silence
sent as CN (``--silence-detect``, ``--cn-payload``), DTX gaps filled (``--dtx-delay``)."""

from __future__ import annotations

import itertools
import struct
import subprocess
import sys
import time
from collections.abc import Callable

from arrivals import drain, stamp_arrivals
from audio import decode, dominant, header, level_db, rtp_packets, sine
from rtpgate.testing import ServerProcess
from test_transcoded_call import LOCAL, call, exchange, ng, party

PCMA = ("8", "a=rtpmap:8 PCMA/8000\r\n")
PCMA_CN = ("8 13", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\n")


def cn_packet(after: bytes, n: int, payload: bytes = b"\x20") -> bytes:
    """The ``n``-th 20 ms CN packet after RTP packet ``after`` (same SSRC, numbering on)."""
    _, seq, ts, ssrc = header(after)
    return struct.pack("!BBHII", 0x80, 13, (seq + n) & 0xFFFF, (ts + 160 * n) & 0xFFFFFFFF,
                       ssrc) + payload


def test_cn_is_consumed_into_noise(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``codec-consume: CN``: the caller keeps CN, the callee has none; the caller's CN
    packets reach the callee as PCMA comfort noise (one packet each, no CN payload type),
    quieter than the tone and louder than silence."""
    server = rtpgate_server("--delete-delay=0")
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMA_CN, PCMA,
                                   codec={"consume": ["CN"]})
    tone = rtp_packets("PCMA/8000", sine(8000, 0.4), pt=8)
    noise = [cn_packet(tone[-1], n) for n in range(1, 21)]
    got = exchange(caller, from_caller, tone + noise, callee)
    assert {header(p)[0] for p in got} == {8}
    assert len(got) == len(tone) + len(noise)
    heads = [header(p) for p in got]
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    tail = decode("PCMA/8000", got[-15:])
    assert -60 < level_db(tail) < -25
    ng(server, "delete", **{"call-id": call_id})


def test_silence_goes_out_as_cn(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--silence-detect=1`` and ``--cn-payload=45``: CN added by codec-transcode and
    answered by the callee; the caller's silence reaches the callee as CN packets carrying
    45, its tone as PCMA, on one SSRC with consecutive numbers and timestamps."""
    server = rtpgate_server("--delete-delay=0", "--silence-detect=1", "--cn-payload=45")
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMA, PCMA_CN,
                                   codec={"transcode": ["CN"]})
    audio = sine(8000, 0.8)
    audio[3200:4800] = 0  # 200 ms of silence between 400 ms of tone and 200 ms more
    got = exchange(caller, from_caller, rtp_packets("PCMA/8000", audio, pt=8), callee)
    kinds = [header(p)[0] for p in got]
    assert kinds == [8] * 20 + [13] * 10 + [8] * 10, kinds
    assert {p[12:] for p in got if header(p)[0] == 13} == {bytes([45])}
    heads = [header(p) for p in got]
    assert len({h[3] for h in heads}) == 1
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    tone = decode("PCMA/8000", [p for p in got if header(p)[0] == 8][2:20])
    assert abs(dominant(tone, 8000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_dtx_gap_is_filled(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--dtx-delay=40`` on a transcoded direction (PCMA caller, G.722 callee): the caller
    sends 200 ms of tone at once (the buffer paces it) and stops; the callee keeps getting a
    packet every 20 ms (silence; none before its turn on the buffer's clock) until the caller
    comes back, with the timestamps of half a second after the last packet the callee got;
    the callee's stream stays one (consecutive sequence numbers, timestamps 160 apart) and
    carries the caller's tone where its timestamps put it, the gap after it filled again."""
    server = rtpgate_server("--delete-delay=0", "--dtx-delay=40")
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMA,
                                   ("9", "a=rtpmap:9 G722/8000\r\n"),
                                   codec={"transcode": ["G722"]})
    sent = rtp_packets("PCMA/8000", sine(8000, 6.0), pt=8)
    stamp_arrivals(callee)
    got: list[tuple[bytes, float]] = []

    def collect(count: int) -> None:
        """Until the callee has ``count`` packets (the deadline only for a broken server: a
        loaded machine's may lag)."""
        deadline = time.monotonic() + 15
        while len(got) < count and time.monotonic() < deadline:
            got.extend(drain(callee))
            time.sleep(0.005)
        assert len(got) >= count, len(got)

    start = time.time()
    for packet in sent[:10]:
        caller.sendto(packet, (LOCAL, from_caller))
    collect(50)  # the ten, then the gap filled for a while
    got.extend(drain(callee))
    # the caller's packets come back 25 packet times ahead of the last filled one seen (less
    # than the buffer's jump limit of 20 delays, 800 ms): they wait there for their turn
    back = len(got) + 25
    for packet in sent[back:back + 10]:
        caller.sendto(packet, (LOCAL, from_caller))
    collect(back + 10 + 20)  # the ten, then the gap after them filled too
    packets = [p for p, _ in got]
    heads = [header(p) for p in packets]
    assert {h[0] for h in heads} == {9}
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    steps = [(b[2] - a[2]) & 0xFFFFFFFF for a, b in itertools.pairwise(heads)]
    assert set(steps) == {160}, steps
    # the buffer's timer: the first packet's turn 40 ms after it came, one packet time each
    # after that (a late machine sends later, never earlier)
    early = [(n, round(at - start, 3)) for n, (_, at) in enumerate(got)
             if at < start + 0.04 + 0.02 * n - 0.002]
    assert not early, early
    audio = decode("G722/8000", packets)
    loud = [level_db(audio[n * 320:(n + 1) * 320]) > -30 for n in range(len(packets))]
    expected = [False] * len(packets)
    expected[2:9] = [True] * 7  # the first tone (past the codecs' ramp)
    expected[back + 2:back + 9] = [True] * 7  # the second, where its timestamps put it
    for n in (0, 1, 9, 10, 11, back, back + 1, back + 9, back + 10, back + 11):
        expected[n] = loud[n]  # the edges: ramp and tail
    assert loud == expected, loud
    assert level_db(decode("G722/8000", packets[12:back])) < -50
    assert abs(dominant(decode("G722/8000", packets[back + 2:back + 10]), 16000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_bad_cn_payload_refuses_to_start() -> None:
    """A noise level over 127 (RFC 3389) stops the server at start-up, naming the option."""
    out = subprocess.run([sys.executable, "-m", "rtpgate", "-f", "--cn-payload=200",
                          "--listen-http=127.0.0.1:0"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "--cn-payload" in out.stderr, out.stderr


def test_dtx_after_cn_fills_silence(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``codec-consume: CN`` with ``--dtx-delay=40``: the caller sends its tone, one CN
    packet and then nothing; the callee gets that packet's noise once, then the gap filled
    with silence every 20 ms (what rtpengine 10.5 was seen to send: PCMA 0xD5 after the
    noise)."""
    server = rtpgate_server("--delete-delay=0", "--dtx-delay=40")
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMA_CN, PCMA,
                                   codec={"consume": ["CN"]})
    tone = rtp_packets("PCMA/8000", sine(8000, 0.2), pt=8)
    got = exchange(caller, from_caller, [*tone, cn_packet(tone[-1], 1)], callee)
    assert {header(p)[0] for p in got} == {8}
    assert len(got) >= 11 + 30, len(got)
    heads = [header(p) for p in got]
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    silence = b"\xd5" * 160
    quiet = next(n for n in range(len(got), 0, -1) if got[n - 1][12:] != silence)
    assert len(got) - quiet >= 30  # the gap: silence (a stalled test may add some earlier)
    assert -60 < level_db(decode("PCMA/8000", got[quiet - 1:quiet])) < -25  # the noise
    ng(server, "delete", **{"call-id": call_id})
