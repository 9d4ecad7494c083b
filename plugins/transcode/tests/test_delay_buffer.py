"""``block DTMF`` with ``delay-buffer`` over a real rtpgate: the blocked party's audio is held
that long, and an in-band digit in it (no telephone-event on either side) is replaced by the
``DTMF-security`` tone from before its start (the delay lets the replacement begin before the
detector was sure) to after its end; ``unblock DTMF`` with ``delay-buffer=0`` lets what is
held go at once, in order, and the audio flows without delay again."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import av
import numpy as np
import pytest
from audio import decode, dominant, header, level_db
from rtpgate.testing import ServerProcess
from rtpgate_transcode import dtmf
from test_transcoded_call import LOCAL, call, inband_digits, ng, party

PCMU = ("0", "a=rtpmap:0 PCMU/8000\r\n")
SSRC = 0x1234


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0")


def g711(encoder: str, samples: bytes) -> bytes:
    """s16 mono samples at 8 kHz in ``encoder`` (FFmpeg's ``pcm_mulaw`` or ``pcm_alaw``)."""
    ctx = av.CodecContext.create(encoder, "w")
    ctx.sample_rate, ctx.layout, ctx.format = 8000, "mono", "s16"
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(samples) // 2, align=1)
    frame.sample_rate = 8000
    frame.planes[0].update(samples)
    return b"".join(bytes(p) for p in ctx.encode(frame))


def pcmu(samples: bytes) -> bytes:
    return g711("pcm_mulaw", samples)


def packet(seq: int, payload: bytes) -> bytes:
    return (bytes([0x80, 0]) + seq.to_bytes(2, "big") + (3000 + 160 * seq).to_bytes(4, "big")
            + SSRC.to_bytes(4, "big") + payload)


def quiet() -> bytes:
    return pcmu(np.zeros(160, dtype=np.int16).tobytes())


def digit(n: int) -> bytes:
    return pcmu(dtmf.tone(5, n * 160, 160, 8000, 6))


def send_and_time(sender: socket.socket, to: int, packets: list[bytes],
                  receiver: socket.socket, wait: float = 1.0
                  ) -> tuple[dict[int, float], dict[int, tuple[float, bytes]]]:
    """Send 20 ms apart; when each was sent, and when each (by sequence number) arrived."""
    sent: dict[int, float] = {}
    got: dict[int, tuple[float, bytes]] = {}
    receiver.settimeout(0.002)  # (a longer wait would space the packets further apart)

    def drain(until: float) -> None:
        while time.monotonic() < until:
            with contextlib.suppress(TimeoutError):
                data = receiver.recv(4096)
                got.setdefault(header(data)[1], (time.monotonic(), data))

    for data in packets:
        sent[header(data)[1]] = time.monotonic()
        sender.sendto(data, (LOCAL, to))
        drain(time.monotonic() + 0.02)
    drain(time.monotonic() + wait)
    return sent, got


def test_inband_digit_replaced_by_the_tone_from_before_its_start(server: ServerProcess
                                                                  ) -> None:
    """The digit (seq 23-27) is sure after its second packet; the tone reaches back 300 ms
    before the end of that packet (seq 10), as far as the packets there have not left yet
    when it becomes sure (seq 10 leaves 300 ms after it came, about when seq 24 comes: that
    edge depends on the timing, so the test checks from seq 16 on, 100 ms clear of it), and
    runs to 300 ms after the digit's last packet (seq 43)."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMU, PCMU)
    # the relay learns the caller's address before the block
    send_and_time(caller, from_caller, [packet(s, quiet()) for s in range(3)], callee, 0.3)
    assert ng(server, "block DTMF", **{"call-id": call_id, "from-tag": "a",
                                       "DTMF-security": "tone",
                                       "delay-buffer": 300}) == {"result": "ok"}
    # 20 quiet packets, the digit 5 for 100 ms (seq 23-27), 25 quiet packets
    stream = [packet(s, quiet()) for s in range(3, 23)]
    stream += [packet(23 + n, digit(n)) for n in range(5)]
    stream += [packet(s, quiet()) for s in range(28, 53)]
    sent, got = send_and_time(caller, from_caller, stream, callee)
    assert sorted(got) == list(range(3, 53))  # every packet, the same numbers
    # held the delay (a loaded machine only adds to it)
    delays = [got[s][0] - sent[s] for s in got]
    assert min(delays) >= 0.29, delays
    heads = {s: header(data) for s, (_, data) in got.items()}
    assert all(h[0] == 0 and h[2] == 3000 + 160 * s for s, h in heads.items())
    by_seq = {s: decode("PCMU/8000", [data]) for s, (_, data) in got.items()}
    # no digit reaches the callee
    assert inband_digits(decode("PCMU/8000", [got[s][1] for s in sorted(got)])) == ""
    # the tone (400 Hz at -10 dBm0) from before the digit began to after it ended
    for s in range(16, 44):
        assert abs(dominant(by_seq[s], 8000) - 400) <= 8, s
        assert abs(level_db(by_seq[s]) - (-10 - 3.01)) <= 3, s
    # and the caller's quiet audio before and after it
    for s in [*range(3, 10), *range(44, 53)]:
        assert level_db(by_seq[s]) < -60, s
    ng(server, "delete", **{"call-id": call_id})


def test_unblock_with_no_delay_lets_the_held_audio_go(server: ServerProcess) -> None:
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMU, PCMU)
    send_and_time(caller, from_caller, [packet(s, quiet()) for s in range(3)], callee, 0.3)
    ng(server, "block DTMF", **{"call-id": call_id, "from-tag": "a",
                                "DTMF-security": "silence", "delay-buffer": 1000})
    for s in range(3, 8):
        caller.sendto(packet(s, quiet()), (LOCAL, from_caller))
    time.sleep(0.1)
    with contextlib.suppress(TimeoutError):
        early = callee.recv(4096)
        pytest.fail(f"not held: {header(early)}")
    assert ng(server, "unblock DTMF", **{"call-id": call_id, "from-tag": "a",
                                         "delay-buffer": 0}) == {"result": "ok"}
    caller.sendto(packet(8, quiet()), (LOCAL, from_caller))
    order: list[int] = []
    deadline = time.monotonic() + 0.6  # well within the 1 s they would have been held
    while time.monotonic() < deadline and len(order) < 6:
        with contextlib.suppress(TimeoutError):
            order.append(header(callee.recv(4096))[1])
    assert order == [3, 4, 5, 6, 7, 8]
    ng(server, "delete", **{"call-id": call_id})


def pcma(samples: bytes) -> bytes:
    return g711("pcm_alaw", samples)


def test_replacement_encoded_once_in_the_receivers_codec(server: ServerProcess) -> None:
    """A PCMU caller transcoded to a PCMA callee without telephone-event, blocked with
    ``zero``: the digit 0's tones that replace the caller's digit are encoded straight into
    PCMA (not into PCMU first and then transcoded, which would quantise them twice)."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMU,
                                   ("8", "a=rtpmap:8 PCMA/8000\r\n"),
                                   codec={"transcode": ["PCMA"]})
    send_and_time(caller, from_caller, [packet(s, quiet()) for s in range(3)], callee, 0.3)
    ng(server, "block DTMF", **{"call-id": call_id, "from-tag": "a", "DTMF-security": "zero",
                                "delay-buffer": 100})
    stream = [packet(s, quiet()) for s in range(3, 23)]
    stream += [packet(23 + n, digit(n)) for n in range(5)]
    stream += [packet(s, quiet()) for s in range(28, 53)]
    _, got = send_and_time(caller, from_caller, stream, callee)
    assert sorted(got) == list(range(3, 53))
    replaced = {s: data[12:] for s, (_, data) in got.items()
                if header(data)[0] == 8 and level_db(decode("PCMA/8000", [data])) > -40}
    assert len(replaced) >= 8 and set(replaced) <= set(range(15, 40)), sorted(replaced)
    for s, payload in replaced.items():
        assert payload == pcma(dtmf.tone(0, 3000 + 160 * s, 160, 8000, 10)), s
    assert inband_digits(decode("PCMA/8000", [got[s][1] for s in sorted(got)])) == "0"
    ng(server, "delete", **{"call-id": call_id})


PCMU_TE = ("0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


def event(seq: int, start: int, code: int, duration: int, end: bool) -> bytes:
    return (bytes([0x80, 101 | (0x80 if seq == start else 0)]) + seq.to_bytes(2, "big")
            + (3000 + 160 * start).to_bytes(4, "big") + SSRC.to_bytes(4, "big")
            + dtmf.event_payload(code, end, 10, duration))


def test_dtmf_delay_plays_the_events_later(server: ServerProcess) -> None:
    """``DTMF-delay=60`` with the mode off (a trigger armed, not typed): the caller's digit
    (RFC 4733, seq 23-27) reaches the callee 60 ms later as events of its own (from the
    audio's timestamp then, durations growing by 20 ms, the end three times), silence in the
    digit's first 60 ms; the caller's later packets follow, numbered on by the two extra end
    packets."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMU_TE, PCMU_TE)
    send_and_time(caller, from_caller, [packet(s, quiet()) for s in range(3)], callee, 0.3)
    assert ng(server, "block DTMF", **{"call-id": call_id, "from-tag": "a", "trigger": "*",
                                       "DTMF-security-trigger": "silence", "delay-buffer": 1,
                                       "DTMF-delay": 60}) == {"result": "ok"}
    stream = [packet(s, quiet()) for s in range(3, 23)]
    stream += [event(23 + n, 23, 5, 160 * (n + 1), n == 4) for n in range(5)]
    stream += [packet(s, quiet()) for s in range(28, 46)]
    _, got = send_and_time(caller, from_caller, stream, callee)
    assert sorted(got) == list(range(3, 48))  # two more than were sent
    heads = {s: header(data) for s, (_, data) in got.items()}
    for s in (23, 24, 25):  # the digit's first 60 ms: silence in the caller's codec
        assert heads[s][0] == 0 and got[s][1][12:] == b"\xff" * 160, s
    for n, s in enumerate(range(26, 31)):  # then the digit again
        data = got[s][1]
        assert heads[s][0] == 101 and heads[s][2] == 3000 + 160 * 26, s
        assert bool(data[1] & 0x80) == (s == 26)
        assert dtmf.parse_event(data[12:]) == (5, False, 10, 160 * (n + 1)), s
    for s in (31, 32, 33):
        assert heads[s][0] == 101 and dtmf.parse_event(got[s][1][12:]) == (5, True, 10, 960)
    for s in range(34, 48):  # the caller's audio again, two numbers on
        assert heads[s][0] == 0 and heads[s][2] == 3000 + 160 * (s - 2), s
    ng(server, "delete", **{"call-id": call_id})


def test_a_delay_longer_than_the_buffer_lets_the_oldest_go(server: ServerProcess) -> None:
    """``delay-buffer`` of 100 s: at most 1,500 packets are held, the oldest goes early."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMU, PCMU)
    send_and_time(caller, from_caller, [packet(s, quiet()) for s in range(3)], callee, 0.3)
    ng(server, "block DTMF", **{"call-id": call_id, "from-tag": "a",
                                "DTMF-security": "silence", "delay-buffer": 100_000})
    got: list[int] = []
    for s in range(3, 1703):
        caller.sendto(packet(s, quiet()), (LOCAL, from_caller))
        if s % 20 == 0:
            time.sleep(0.01)
            with contextlib.suppress(TimeoutError):
                got.append(header(callee.recv(4096))[1])
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            got.append(header(callee.recv(4096))[1])
    # the first packets went on once 1,500 were held; nothing like all of them
    assert got and got[0] == 3 and 10 <= len(got) <= 300 and got == sorted(got), got[:20]
    ng(server, "delete", **{"call-id": call_id})
