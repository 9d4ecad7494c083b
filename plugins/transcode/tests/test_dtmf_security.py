"""``block DTMF`` with ``DTMF-security=silence|tone`` over a real rtpgate: the blocked
party's RFC 4733 events reach its peer as audio of its codec (silence, or a tone of
``frequency`` Hz), in place of the events (the same sequence numbers, the timestamps the
events cover); audio flows on around them; the peer hears no digit."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from audio import decode, dominant, header, level_db, rtp_packets, sine
from rtpgate.testing import ServerProcess
from test_transcoded_call import call, exchange, inband_digits, ng, party, te_packets

PCMU_TE = ("0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                    "a=fmtp:101 0-15\r\n")


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0")


def events_in_audio(digits: str) -> tuple[list[bytes], set[int]]:
    """A 300 Hz tone (no DTMF frequency near it) in PCMU with ``digits`` as RFC 4733 events
    in place of some of its packets; the sequence numbers of the event packets."""
    audio = rtp_packets("PCMU/8000", sine(8000, 1.6, 300.0), pt=0)
    ssrc, ts = int.from_bytes(audio[0][8:12], "big"), int.from_bytes(audio[0][4:8], "big")
    events = te_packets(digits, 101, 0, ts + 10 * 160, ssrc)
    stream: list[bytes] = []
    for slot, packet in enumerate(audio):
        slot_events = [p for s, p in events if s + 10 == slot]
        stream += slot_events or [packet]
    # one sequence number space for the stream, as a phone sends it
    numbered = [p[:2] + (i & 0xFFFF).to_bytes(2, "big") + p[4:] for i, p in enumerate(stream)]
    return numbered, {i for i, p in enumerate(numbered) if p[1] & 0x7F == 101}


@pytest.mark.parametrize(("keys", "heard"), [
    ({"DTMF-security": "silence"}, None),
    ({"DTMF-security": "tone"}, 400.0),
    ({"DTMF-security": "tone", "frequency": 1500, "volume": 6}, 1500.0),
])
def test_events_become_silence_or_a_tone(server: ServerProcess, keys: dict[str, object],
                                         heard: float | None) -> None:
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, PCMU_TE, PCMU_TE)
    assert ng(server, "block DTMF", **{"call-id": call_id, "from-tag": "a",
                                       "flags": ["directional"], **keys}) == {"result": "ok"}
    sent, event_seqs = events_in_audio("37")
    got = exchange(caller, from_caller, sent, callee)
    assert {header(p)[0] for p in got} == {0}  # no event reaches the callee
    by_seq = {header(p)[1]: p for p in got}
    replaced = [by_seq[s] for s in sorted(event_seqs) if s in by_seq]
    # one audio packet per event packet that made the event longer (the 2 retransmitted end
    # packets of each digit give nothing): 2 digits x 5
    assert len(replaced) == 10 and len(got) >= len(sent) - 4 - 3
    for _, group in itertools.groupby(replaced, key=lambda p: header(p)[1] // 10):
        heads = [header(p) for p in group]
        assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    samples = decode("PCMU/8000", replaced)
    if heard is None:
        assert level_db(samples) < -60
    else:
        assert abs(dominant(samples, 8000) - heard) <= heard * 0.02
        assert abs(level_db(samples) - (-float(keys.get("volume", 10)) - 3.01)) <= 3
    audio = [by_seq[s] for s in sorted(by_seq) if s not in event_seqs]
    assert abs(dominant(decode("PCMU/8000", audio), 8000) - 300) <= 6
    assert inband_digits(decode("PCMU/8000", [by_seq[s] for s in sorted(by_seq)])) == ""
    # unblocked, the events pass again
    ng(server, "unblock DTMF", **{"call-id": call_id, "from-tag": "a",
                                  "flags": ["directional"]})
    got = exchange(caller, from_caller, sent[:30], callee)
    assert {header(p)[0] for p in got} == {0, 101}
    ng(server, "delete", **{"call-id": call_id})


def test_silence_on_a_transcoded_call(server: ServerProcess) -> None:
    """``always transcode`` to a PCMA callee without telephone-event, where the caller's
    events are otherwise played as tones (test_rfc4733_events_become_inband_tones): blocked
    as silence, the callee hears silence where the digits were, and no digit."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(
        server, caller, callee,
        ("0 8 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                    "a=rtpmap:101 telephone-event/8000\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), flags=["always transcode"])
    ng(server, "block DTMF", **{"call-id": call_id, "DTMF-security": "silence"})
    sent, _ = events_in_audio("15")
    got = exchange(caller, from_caller, sent, callee)
    assert {header(p)[0] for p in got} == {8} and len(got) >= 70
    samples = decode("PCMA/8000", got)
    levels = [level_db(samples[i * 160:(i + 1) * 160]) for i in range(len(samples) // 160)]
    assert sum(1 for v in levels if v < -50) >= 8, [round(v) for v in levels]
    assert sum(1 for v in levels if abs(v - (-13)) < 3) >= 55  # the caller's tone
    assert inband_digits(samples) == ""
    ng(server, "delete", **{"call-id": call_id})


@pytest.mark.parametrize(("keys", "heard"), [
    ({}, ""),  # drop
    ({"DTMF-security": "zero"}, "000"),
    ({"DTMF-security": "DTMF", "digit": "9"}, "999"),
])
def test_blocked_events_are_not_played_in_band(server: ServerProcess, keys: dict[str, str],
                                               heard: str) -> None:
    """``always transcode`` plays the caller's events as tones to a callee without
    telephone-event; blocked, the digits are dropped or replaced before they become tones."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(
        server, caller, callee,
        ("0 8 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                    "a=rtpmap:101 telephone-event/8000\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), flags=["always transcode"])
    ng(server, "block DTMF", **{"call-id": call_id, **keys})
    silence = rtp_packets("PCMU/8000", sine(8000, 1.0, dbfs=-60), pt=0)
    events = te_packets("15#", 101, 20000, int.from_bytes(silence[0][4:8], "big"),
                        int.from_bytes(silence[0][8:12], "big"))
    stream: list[bytes] = []
    for slot, audio in enumerate(silence):
        stream += [p for s, p in events if s == slot] or [audio]
    got = exchange(caller, from_caller, stream, callee)
    assert {header(p)[0] for p in got} == {8} and len(got) >= 30  # (drop: 15 slots fewer)
    assert inband_digits(decode("PCMA/8000", got)) == heard
    ng(server, "delete", **{"call-id": call_id})
