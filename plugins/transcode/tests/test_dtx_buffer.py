"""rtpengine's DTX buffer through a real server (``--dtx-delay``, ``--max-dtx``,
``--dtx-cn-params``, ``--dtx-buffer``, ``--dtx-lag``, ``--dtx-shift``): packets held back by
the delay, gaps filled a packet time at a time on one contiguous stream, filling stopped after
``--max-dtx``, bursts released faster (shift) or cut (no shift)."""

from __future__ import annotations

import itertools
import socket
import statistics
import time
from collections.abc import Callable

from arrivals import drain, stamp_arrivals
from audio import decode, dominant, header, level_db, rtp_packets, sine
from rtpgate.testing import ServerProcess
from test_transcoded_call import LOCAL, call, ng, party

PCMA = ("8", "a=rtpmap:8 PCMA/8000\r\n")
G722 = ("9", "a=rtpmap:9 G722/8000\r\n")


def timed(sender: socket.socket, to: int, schedule: list[tuple[float, bytes]],
          receiver: socket.socket, listen: float) -> list[tuple[float, bytes]]:
    """Send each packet at its offset (s) from the start; collect what ``receiver`` gets
    until ``listen`` s after the last send, each with its arrival offset from the start as
    the kernel stamped it (so a test that reads late under load does not move it)."""
    stamp_arrivals(receiver)
    got: list[tuple[float, bytes]] = []
    start, wall = time.monotonic(), time.time()
    pending = sorted(schedule, key=lambda item: item[0])
    end = start + pending[-1][0] + listen
    while True:
        now = time.monotonic()
        while pending and pending[0][0] <= now - start:
            sender.sendto(pending.pop(0)[1], (LOCAL, to))
        got.extend((stamp - wall, data) for data, stamp in drain(receiver))
        if now >= end:
            return got
        time.sleep(0.001)


def contiguous(packets: list[bytes]) -> None:
    heads = [header(p) for p in packets]
    assert len({h[3] for h in heads}) == 1
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    steps = [(b[2] - a[2]) & 0xFFFFFFFF for a, b in itertools.pairwise(heads)]
    assert set(steps) == {160}, steps


def test_gap_filled_on_a_steady_contiguous_stream(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--dtx-delay=60``: PCMA to a G.722 callee; the caller sends 200 ms of tone, nothing
    for 600 ms, then 400 ms more (its timestamps running on through the gap).  Every packet
    leaves about the delay after it came; the gap reaches the callee as silence a packet every
    20 ms; sequence numbers and timestamps are contiguous throughout (no jump where the sender
    came back), starting at the sender's, and the tone after the gap is the tone."""
    server = rtpgate_server("--delete-delay=0", "--dtx-delay=60")
    caller, callee = party(), party()
    call_id, _, to = call(server, caller, callee, PCMA, G722, codec={"transcode": ["G722"]})
    sent = rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8)
    schedule = [(0.02 * n, p) for n, p in enumerate(sent) if not 10 <= n < 40]
    got = timed(caller, to, schedule, callee, 0.5)
    packets = [p for _, p in got]
    # the 60 packet times sent, then the listening time after them filled too
    assert len(packets) >= 70, len(packets)
    assert {header(p)[0] for p in packets} == {9}
    contiguous(packets)
    # numbered as rtpengine numbers them: the sender's sequence number and timestamp
    assert header(packets[0])[1:3] == header(sent[0])[1:3]
    assert got[0][0] >= 0.05, got[0][0]  # held back by the delay (rtpengine's buffer)
    audio = decode("G722/8000", packets[:64])
    loud = [level_db(audio[n * 320:(n + 1) * 320]) > -30 for n in range(64)]
    assert loud[2:9] == [True] * 7 and loud[12:38] == [False] * 26, loud
    assert loud[42:58] == [True] * 16, loud  # the tone again, just where it was sent
    times = [t for t, _ in got]
    spacing = statistics.median(b - a for a, b in itertools.pairwise(times))
    assert 0.015 <= spacing <= 0.025, spacing
    assert times[59] - times[0] < 1.3, times[59] - times[0]  # 60 packet times, steadily
    assert abs(dominant(decode("G722/8000", packets[42:58]), 16000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_filling_stops_after_max_dtx_and_uses_cn_params(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--max-dtx=1 --dtx-cn-params=50``: after the caller stops, the gap is filled with
    comfort noise (neither silence nor the tone's level) for about a second after its last
    packet, then nothing more comes."""
    server = rtpgate_server("--delete-delay=0", "--dtx-delay=40", "--max-dtx=1",
                            "--dtx-cn-params=50")
    caller, callee = party(), party()
    call_id, _, to = call(server, caller, callee, PCMA, G722, codec={"transcode": ["G722"]})
    sent = rtp_packets("PCMA/8000", sine(8000, 0.2), pt=8)
    got = timed(caller, to, [(0.02 * n, p) for n, p in enumerate(sent)], callee, 2.5)
    packets = [p for _, p in got]
    assert got[0][0] >= 0.035, got[0][0]  # held back by the delay
    fills = len(packets) - len(sent)
    assert 40 <= fills <= 55, fills
    contiguous(packets)
    assert all(t < 0.18 + 1.3 for t, _ in got), got[-1][0]  # none long after max-dtx
    noise = decode("G722/8000", packets[len(sent) + 2:-2])
    assert -75 < level_db(noise) < -40, level_db(noise)
    ng(server, "delete", **{"call-id": call_id})


def burst(rtpgate_server: Callable[..., ServerProcess], *options: str
          ) -> list[tuple[float, bytes]]:
    """30 packets (600 ms of audio) sent at once, through a PCMA -> G.722 call."""
    server = rtpgate_server("--delete-delay=0", "--dtx-delay=40", *options)
    caller, callee = party(), party()
    call_id, _, to = call(server, caller, callee, PCMA, G722, codec={"transcode": ["G722"]})
    sent = rtp_packets("PCMA/8000", sine(8000, 0.6), pt=8)
    got = timed(caller, to, [(0.0, p) for p in sent], callee, 1.5)
    ng(server, "delete", **{"call-id": call_id})
    return got


def loud_packets(got: list[tuple[float, bytes]]) -> list[bool]:
    """Which G.722 packets carry the tone (the others: the silence filling the gap after)."""
    audio = decode("G722/8000", [p for _, p in got])
    return [level_db(audio[n * 320:(n + 1) * 320]) > -30 for n in range(len(got))]


def test_burst_speeds_the_timer_up_by_dtx_shift(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--dtx-buffer=10 --dtx-lag=100 --dtx-shift=5``: a burst of 30 packets overflows the
    buffer, so the timer runs 5 ms early per packet time until it holds less: all 30 leave,
    contiguous, over less time than 30 packet times (about 500 ms, not 600); then the gap
    after them is filled."""
    got = burst(rtpgate_server, "--dtx-buffer=10", "--dtx-lag=100", "--dtx-shift=5")
    contiguous([p for _, p in got])
    loud = loud_packets(got)
    assert loud[1:29] == [True] * 28 and not any(loud[31:]), loud
    span = got[29][0] - got[0][0]
    assert 0.38 <= span <= 0.54, span


def test_burst_is_cut_without_dtx_shift(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--dtx-shift=0``: the timer is never moved; the held packets beyond ``--dtx-buffer``
    and ``--dtx-lag`` are dropped instead, so only the last ten or so of the burst leave, a
    packet time apart, before the gap after them is filled."""
    got = burst(rtpgate_server, "--dtx-buffer=10", "--dtx-lag=100", "--dtx-shift=0")
    heads = [header(p) for _, p in got]
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    loud = loud_packets(got)
    assert 8 <= sum(loud) <= 12, loud
