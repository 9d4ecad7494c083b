"""Real packets through a real rtpgate: an opus-only caller, a PCMA callee; what each side
receives decodes (PyAV, here) to the 1 kHz tone the other side sent."""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from audio import decode, dominant, header, in_sequence, level_db, rtp_packets, sine
from rtpgate.testing import ServerProcess, ng_json

LOCAL = "127.0.0.1"
SENT_DB = -10.0 - 3.01


#: One ng request as JSON over POST /ng-plain (keys as rtpengine spells them).
ng = ng_json


def party() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCAL, 0))
    sock.settimeout(0.05)
    return sock


def sdp(port: int, formats: str, attributes: str) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {formats}\r\n{attributes}a=sendrecv\r\n")


def relay_port(reply: dict[str, Any]) -> int:
    found = re.search(r"^m=audio (\d+) ", reply["sdp"], re.M)
    assert found, reply
    return int(found.group(1))


def exchange(sender: socket.socket, to: int, packets: list[bytes], receiver: socket.socket,
             interval: float = 0.02) -> list[bytes]:
    """Send ``packets`` ``interval`` s apart and collect what ``receiver`` gets meanwhile."""
    got: list[bytes] = []
    for data in packets:
        sender.sendto(data, (LOCAL, to))
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                got.append(receiver.recv(4096))
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            got.append(receiver.recv(4096))
    return got


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0")


def test_pcma_to_an_opus_only_caller_and_back(server: ServerProcess) -> None:
    caller, callee = party(), party()
    call_id = uuid.uuid4().hex
    offer = ng(server, "offer", **{"call-id": call_id, "from-tag": "a", "codec": {
        "transcode": ["PCMA"]}, "sdp": sdp(caller.getsockname()[1], "96",
                                           "a=rtpmap:96 opus/48000/2\r\n")})
    assert "a=rtpmap:8 PCMA/8000" in offer["sdp"], offer
    answer = ng(server, "answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b",
                                     "sdp": sdp(callee.getsockname()[1], "8",
                                                "a=rtpmap:8 PCMA/8000\r\n")})
    assert re.search(r"^m=audio \d+ RTP/AVP 96\r$", answer["sdp"], re.M), answer
    # each party sends to the port in the SDP it got
    from_callee, from_caller = relay_port(offer), relay_port(answer)

    pcma = rtp_packets("PCMA/8000", sine(8000, 1.0), pt=8)
    got = exchange(callee, from_callee, pcma, caller)
    assert len(got) >= len(pcma) - 3
    assert {header(p)[0] for p in got} == {96}
    samples = decode("opus/48000/2", got)[4800:]
    assert abs(dominant(samples, 48000) - 1000) <= 20  # within 2 %
    assert abs(level_db(samples) - SENT_DB) <= 3

    opus = rtp_packets("opus/48000/2", sine(48000, 1.0), pt=96)
    got = exchange(caller, from_caller, opus, callee)
    assert {header(p)[0] for p in got} == {8}
    samples = decode("PCMA/8000", got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3

    # garbage in the transcoded direction is dropped and counted as an error of the caller's
    # stream; the call keeps flowing
    def errors() -> int:
        query = ng(server, "query", **{"call-id": call_id})
        return int(query["tags"]["a"]["medias"][0]["streams"][0]["stats"]["errors"])

    before = errors()
    caller.sendto(opus[0][:12] + b"\xff" * 40, (LOCAL, from_caller))
    got = exchange(caller, from_caller, opus[:10], callee)
    assert len(got) >= 8
    assert errors() == before + 1
    ng(server, "delete", **{"call-id": call_id})


def call(server: ServerProcess, caller: socket.socket, callee: socket.socket,
         offer_sdp: tuple[str, str], answer_sdp: tuple[str, str], **keys: Any
         ) -> tuple[str, int, int]:
    """Offer and answer; the call-id and the ports the callee and the caller send to."""
    call_id = uuid.uuid4().hex
    offer = ng(server, "offer", **{"call-id": call_id, "from-tag": "a", **keys,
                                   "sdp": sdp(caller.getsockname()[1], *offer_sdp)})
    answer = ng(server, "answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b",
                                     "sdp": sdp(callee.getsockname()[1], *answer_sdp)})
    assert answer["result"] == "ok", answer
    return call_id, relay_port(offer), relay_port(answer)


def test_g722_caller_and_pcmu_callee(server: ServerProcess) -> None:
    caller, callee = party(), party()
    call_id, from_callee, from_caller = call(
        server, caller, callee, ("9", "a=rtpmap:9 G722/8000\r\n"),
        ("0", "a=rtpmap:0 PCMU/8000\r\n"), codec={"transcode": ["PCMU"]})
    got = exchange(caller, from_caller, rtp_packets("G722/8000", sine(16000, 1.0), pt=9),
                   callee)
    assert {header(p)[0] for p in got} == {0} and len(got) >= 47
    samples = decode("PCMU/8000", got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    got = exchange(callee, from_callee, rtp_packets("PCMU/8000", sine(8000, 1.0), pt=0),
                   caller)
    assert {header(p)[0] for p in got} == {9} and len(got) >= 47
    samples = decode("G722/8000", got)[1600:]
    assert abs(dominant(samples, 16000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


def test_amr_caller_and_pcma_callee(server: ServerProcess) -> None:
    """An AMR-only caller (bandwidth-efficient, mode-set 0-4), PCMA added by codec-transcode
    with ``codec-set AMR/8000/1/7400``: the callee's PCMA arrives as AMR of that framing and
    mode (7.4 kbit/s: 148 speech bits, 20 bytes a packet), the caller's AMR as PCMA; each
    decodes to the tone that was sent."""
    caller, callee = party(), party()
    amr = ("96", "a=rtpmap:96 AMR/8000\r\na=fmtp:96 mode-set=0,1,2,3,4\r\n")
    call_id, from_callee, from_caller = call(
        server, caller, callee, amr, ("8", "a=rtpmap:8 PCMA/8000\r\n"),
        codec={"transcode": ["PCMA"], "set": ["AMR/8000/1/7400"]})
    got = exchange(callee, from_callee, rtp_packets("PCMA/8000", sine(8000, 1.0), pt=8),
                   caller)
    assert {header(p)[0] for p in got} == {96} and len(got) >= 47
    assert {len(p) for p in got} == {12 + 20}
    samples = decode("AMR/8000", got, "mode-set=0,1,2,3,4")[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    sent = rtp_packets("AMR/8000", sine(8000, 1.0), pt=96, fmtp="mode-set=0,1,2,3,4")
    got = exchange(caller, from_caller, sent, callee)
    assert {header(p)[0] for p in got} == {8} and len(got) >= 47
    samples = decode("PCMA/8000", got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


def test_ptime_20_to_30(server: ServerProcess) -> None:
    """``ptime: 30`` in the offer: the callee gets 30 ms packets of what the caller sends in
    20 ms ones (60 in, 40 out, timestamps 240 apart, one SSRC, consecutive sequence numbers);
    the caller, who asked for 20 ms, gets 20 ms packets."""
    caller, callee = party(), party()
    pcma = ("8", "a=rtpmap:8 PCMA/8000\r\na=ptime:20\r\n")
    call_id, from_callee, from_caller = call(server, caller, callee, pcma,
                                             ("8", "a=rtpmap:8 PCMA/8000\r\n"), ptime=30)
    sent = rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8)
    got = exchange(caller, from_caller, sent, callee)
    assert len(got) == 40
    heads = [header(p) for p in got]
    assert {h[0] for h in heads} == {8} and len({h[3] for h in heads}) == 1
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 240 for a, b in itertools.pairwise(heads))
    assert all(len(p) == 12 + 240 for p in got)
    samples = decode("PCMA/8000", got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    back = exchange(callee, from_callee, sent[:10], caller)
    assert [len(p) for p in back] == [12 + 160] * 10
    ng(server, "delete", **{"call-id": call_id})


def test_ptime_flag_frames_every_packet_anew(server: ServerProcess) -> None:
    """``ptime: 30`` in an offer where neither SDP has ``a=ptime``: as rtpengine, the callee
    gets 30 ms packets of the caller's 20 ms ones, and the caller gets the codec's default
    20 ms whatever the callee sends (60 ms packets become three each), not the 30 ms the
    callee was offered."""
    caller, callee = party(), party()
    pcma = ("8", "a=rtpmap:8 PCMA/8000\r\n")
    call_id, from_callee, from_caller = call(server, caller, callee, pcma, pcma, ptime=30)
    sent = rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8)
    got = exchange(caller, from_caller, sent, callee)
    assert len(got) == 40 and {len(p) for p in got} == {12 + 240}
    long = rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8, ptime=60)
    back = exchange(callee, from_callee, long, caller, interval=0.06)
    assert len(back) == 60 and {len(p) for p in back} == {12 + 160}
    heads = [header(p) for p in back]
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    assert abs(dominant(decode("PCMA/8000", back)[800:], 8000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_ptime_30_to_20_and_to_10(server: ServerProcess) -> None:
    """Shorter packetisation times: both parties send 30 ms packets; ``ptime: 20`` gives the
    callee 20 ms packets (40 in, 60 out), ``ptime-reverse: 10`` gives the caller 10 ms ones
    (40 in, 120 out): one SSRC, consecutive sequence numbers, timestamps one ptime apart, and
    the tone intact."""
    caller, callee = party(), party()
    pcma = ("8", "a=rtpmap:8 PCMA/8000\r\na=ptime:30\r\n")
    call_id, from_callee, from_caller = call(server, caller, callee, pcma, pcma, ptime=20,
                                             **{"ptime-reverse": 10})
    sent = rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8, ptime=30)
    assert len(sent) == 40
    for sender, to, receiver, ptime in ((caller, from_caller, callee, 20),
                                        (callee, from_callee, caller, 10)):
        got = exchange(sender, to, sent, receiver, interval=0.03)
        assert len(got) == 1200 // ptime
        heads = [header(p) for p in got]
        assert {h[0] for h in heads} == {8} and len({h[3] for h in heads}) == 1
        assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
        assert all((b[2] - a[2]) & 0xFFFFFFFF == 8 * ptime
                   for a, b in itertools.pairwise(heads))
        assert {len(p) for p in got} == {12 + 8 * ptime}
        samples = decode("PCMA/8000", got)[800:]
        assert abs(dominant(samples, 8000) - 1000) <= 20
        assert abs(level_db(samples) - SENT_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


DTMF_ROWS, DTMF_COLS = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")


def inband_digits(samples: np.ndarray, rate: int = 8000) -> str:
    """The digits in ``samples`` (numpy FFT per 20 ms frame, repeated frames collapsed)."""
    per = rate // 50
    out, last = [], ""
    for i in range(len(samples) // per):
        frame = samples[i * per:(i + 1) * per] * np.hanning(per)
        spectrum = np.abs(np.fft.rfft(frame, 4 * per))
        freqs = np.fft.rfftfreq(4 * per, 1 / rate)
        rows = [float(spectrum[int(np.argmin(np.abs(freqs - f)))]) for f in DTMF_ROWS]
        cols = [float(spectrum[int(np.argmin(np.abs(freqs - f)))]) for f in DTMF_COLS]
        floor = float(np.median(spectrum)) * 20
        key = ""
        if max(rows) > floor and max(cols) > floor:
            key = DTMF_KEYS[int(np.argmax(rows))][int(np.argmax(cols))]
        if key and key != last:
            out.append(key)
        last = key
    return "".join(out)


def te_packets(digits: str, pt: int, start_seq: int, start_ts: int, ssrc: int,
               step: int = 160) -> list[tuple[int, bytes]]:
    """(index of the 20 ms slot, packet) of RFC 4733 events: each digit 100 ms, then 100 ms
    of nothing, three end packets; ``step``: the ticks of 20 ms at the event's clock rate."""
    out = []
    slot = 0
    for digit in digits:
        event = "0123456789*#ABCD".index(digit)
        ts = start_ts + slot * step
        for n in range(1, 6):
            end = n == 5
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, n * step)
            for _ in range(3 if end else 1):
                header = struct.pack("!BBHII", 0x80, pt | (0x80 if n == 1 else 0),
                                     (start_seq + len(out)) & 0xFFFF, ts, ssrc)
                out.append((slot + n - 1, header + payload))
        slot += 10
    return out


def test_rfc4733_events_become_inband_tones(server: ServerProcess) -> None:
    """``always transcode``: the caller keeps telephone-event, the callee has none; the
    caller's events reach the callee as tones the test hears."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(
        server, caller, callee,
        ("0 8 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                    "a=rtpmap:101 telephone-event/8000\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), flags=["always transcode"])
    silence = rtp_packets("PCMU/8000", sine(8000, 1.0, dbfs=-60), pt=0)
    events = te_packets("15#", 101, 20000, int.from_bytes(silence[0][4:8], "big"),
                        int.from_bytes(silence[0][8:12], "big"))
    stream: list[bytes] = []  # audio, with the event packets in place of the audio of a slot
    for slot, audio in enumerate(silence):
        stream += [p for s, p in events if s == slot] or [audio]
    got = exchange(caller, from_caller, stream, callee)
    assert {header(p)[0] for p in got} == {8}
    assert inband_digits(decode("PCMA/8000", got)) == "15#"
    ng(server, "delete", **{"call-id": call_id})


def events_with_audio(audio: list[bytes], digits: str, pt: int, step: int) -> list[bytes]:
    """``audio`` with RFC 4733 events of ``digits`` (:func:`te_packets`, on the audio's SSRC
    and timeline) in place of the audio of their slots."""
    events = te_packets(digits, pt, 20000, int.from_bytes(audio[0][4:8], "big"),
                        int.from_bytes(audio[0][8:12], "big"), step)
    stream: list[bytes] = []
    for slot, packet in enumerate(audio):
        stream += [p for s, p in events if s == slot] or [packet]
    return stream


def received_events(got: list[bytes], pt: int, audio_pt: int, step: int
                    ) -> list[tuple[str, int, bool, int]]:
    """(digit, duration, end, 20 ms slots from the first audio packet) of the events among
    ``got``, checked to be on the audio's SSRC."""
    audio = [p for p in got if header(p)[0] == audio_pt]
    assert audio, [header(p)[0] for p in got]
    out = []
    for data in got:
        if header(data)[0] != pt:
            continue
        assert header(data)[3] == header(audio[0])[3]  # one SSRC for audio and events
        event, flags, duration = struct.unpack_from("!BBH", data, 12)
        offset = ((header(data)[2] - header(audio[0])[2] + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
        assert offset % step == 0, offset  # on the audio's timeline, at its clock rate
        out.append(("0123456789*#ABCD"[event], duration, bool(flags & 0x80), offset // step))
    return out


def test_rfc4733_events_translated_between_8000_and_48000(server: ServerProcess) -> None:
    """PCMU and telephone-event/8000 to a callee of opus and telephone-event/48000 (added by
    ``codec-transcode: opus``, PCMU masked, as rtpengine 10.5 offers them): the caller's
    events reach the callee at 48000 (durations x6, the receiver's payload type, the
    timestamps of the transcoded audio), and the callee's reach the caller at 8000."""
    caller, callee = party(), party()
    call_id, from_callee, from_caller = call(
        server, caller, callee,
        ("0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                  "a=fmtp:101 0-16\r\n"),
        ("96 97", "a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/48000\r\n"
                  "a=fmtp:97 0-15\r\n"), codec={"mask": ["PCMU"], "transcode": ["opus"]})
    expected = [(digit, n * 160, n == 5) for digit in "15#" for n in range(1, 6)
                for _ in range(3 if n == 5 else 1)]

    pcmu = rtp_packets("PCMU/8000", sine(8000, 1.0, dbfs=-30), pt=0)
    got = exchange(caller, from_caller, events_with_audio(pcmu, "15#", 101, 160), callee)
    assert {header(p)[0] for p in got} == {96, 97}
    events = received_events(got, 97, 96, 960)
    assert [(d, duration, end) for d, duration, end, _ in events] == [
        (digit, duration * 6, end) for digit, duration, end in expected]
    # each digit on one timestamp, 10 slots (200 ms) after the one before
    assert sorted({slot for *_, slot in events}) == [events[0][3] + 10 * n for n in range(3)]

    opus = rtp_packets("opus/48000/2", sine(48000, 1.0, dbfs=-30), pt=96)
    got = exchange(callee, from_callee, events_with_audio(opus, "15#", 97, 960), caller)
    assert {header(p)[0] for p in got} == {0, 101}
    events = received_events(got, 101, 0, 160)
    assert [(d, duration, end) for d, duration, end, _ in events] == expected
    assert sorted({slot for *_, slot in events}) == [events[0][3] + 10 * n for n in range(3)]
    ng(server, "delete", **{"call-id": call_id})


def test_inband_tones_become_rfc4733_events(server: ServerProcess) -> None:
    """The callee (no telephone-event) plays digits in-band; the caller, who has
    telephone-event, gets them as RFC 4733 events."""
    caller, callee = party(), party()
    call_id, from_callee, _ = call(
        server, caller, callee,
        ("0 8 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                    "a=rtpmap:101 telephone-event/8000\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), flags=["always transcode"])
    rate, t = 8000, np.arange(1600) / 8000
    audio = []
    for digit in "29":
        row = next(r for r, keys in enumerate(DTMF_KEYS) if digit in keys)
        low, high = DTMF_ROWS[row], DTMF_COLS[DTMF_KEYS[row].index(digit)]
        audio.append(((np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
                      * 6000).astype(np.int16))
        audio.append(np.zeros(1600, dtype=np.int16))
    packets = rtp_packets("PCMA/8000", np.concatenate(audio), pt=8)
    assert len(packets) == 40 and rate
    got = exchange(callee, from_callee, packets, caller)
    events = [p for p in got if header(p)[0] == 101]
    assert events, [header(p)[0] for p in got]
    digits, ends = "", 0
    for data in events:
        event, flags, _ = struct.unpack_from("!BBH", data, 12)
        key = "0123456789*#ABCD"[event]
        if not digits or digits[-1] != key or ends:
            digits += key if not digits or digits[-1] != key else ""
        ends += bool(flags & 0x80)
    assert digits == "29" and ends == 2
    assert {header(p)[3] for p in got} == {header(got[0])[3]}  # one SSRC for audio and events
    ng(server, "delete", **{"call-id": call_id})


def test_codec_ignore_transcodes_to_the_offerers_other_codec(server: ServerProcess) -> None:
    """``codec-ignore: PCMU`` (rtpengine's newest meaning; 10.5 does not know it): the offer
    still carries PCMU, but the caller is treated as never having offered it, so a callee that
    answers PCMU gets transcoded to the caller's PCMA, and the caller's PCMA reaches it as
    PCMU with the tone intact."""
    caller, callee = party(), party()
    both = ("0 8", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n")
    call_id = uuid.uuid4().hex
    offer = ng(server, "offer", **{"call-id": call_id, "from-tag": "a",
                                   "codec": {"ignore": ["PCMU"]},
                                   "sdp": sdp(caller.getsockname()[1], *both)})
    assert re.search(r"^m=audio \d+ RTP/AVP 0 8\r$", offer["sdp"], re.M), offer
    answer = ng(server, "answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b",
                                     "sdp": sdp(callee.getsockname()[1], "0",
                                                "a=rtpmap:0 PCMU/8000\r\n")})
    assert re.search(r"^m=audio \d+ RTP/AVP 8\r$", answer["sdp"], re.M), answer
    got = exchange(caller, relay_port(answer), rtp_packets("PCMA/8000", sine(8000, 0.6), pt=8),
                   callee)
    assert {header(p)[0] for p in got} == {0} and len(got) >= 28
    samples = decode("PCMU/8000", got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_amr_added_with_bitrate_and_fmtp(server: ServerProcess) -> None:
    """``codec-transcode-AMR/8000/1/12200//mode-set--0,2,4;octet-align--1`` (a flag, with
    rtpengine's ``--`` for ``=``): AMR is offered with that fmtp; the callee that answers it
    gets octet-aligned AMR at the highest mode of the set not above 12.2 kbit/s (mode 4, 7.4
    kbit/s: 1 + 1 + 19 bytes), carrying the caller's tone."""
    caller, callee = party(), party()
    call_id = uuid.uuid4().hex
    offer = ng(server, "offer", **{
        "call-id": call_id, "from-tag": "a",
        "flags": ["codec-transcode-AMR/8000/1/12200//mode-set--0,2,4;octet-align--1"],
        "sdp": sdp(caller.getsockname()[1], "8", "a=rtpmap:8 PCMA/8000\r\n")})
    found = re.search(r"^a=rtpmap:(\d+) AMR/8000\r\na=fmtp:\1 (.*)\r$", offer["sdp"], re.M)
    assert found and found.group(2) == "mode-set=0,2,4;octet-align=1", offer["sdp"]
    pt, fmtp = int(found.group(1)), found.group(2)
    answer = ng(server, "answer", **{
        "call-id": call_id, "from-tag": "a", "to-tag": "b",
        "sdp": sdp(callee.getsockname()[1], str(pt),
                   f"a=rtpmap:{pt} AMR/8000\r\na=fmtp:{pt} {fmtp}\r\n")})
    got = exchange(caller, relay_port(answer), rtp_packets("PCMA/8000", sine(8000, 1.0), pt=8),
                   callee)
    assert {header(p)[0] for p in got} == {pt} and len(got) >= 47
    assert {len(p) for p in got} == {12 + 1 + 1 + 19}
    samples = decode("AMR/8000", got, fmtp)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


@pytest.mark.parametrize(("kbit", "start"), [
    (32, None), (16, None), (24, None), (40, None),
    # the sender's sequence numbers and timestamps wrap within the call
    pytest.param(24, (0xFFFF - 20, 0xFFFFFFFF - 20 * 160), id="24-wrapping"),
])
def test_g726_caller_and_pcma_callee(server: ServerProcess, kbit: int,
                                     start: tuple[int, int] | None) -> None:
    """G.726 sent as rtpengine sends it: FFmpeg's frames of 1640-4096 samples split into
    packets of 20 ms of the byte stream (the first arrive once a frame is full); sequence
    numbers and timestamps follow the sender's, across their wrap."""
    caller, callee = party(), party()
    name = f"G726-{kbit}/8000"
    call_id, from_callee, from_caller = call(
        server, caller, callee, ("97", f"a=rtpmap:97 {name}\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), codec={"transcode": ["PCMA"]})
    got = exchange(callee, from_callee,
                   rtp_packets("PCMA/8000", sine(8000, 1.5), pt=8, start=start), caller)
    frame = {16: 4096, 24: 2736, 32: 2048, 40: 1640}[kbit]  # FFmpeg's, in samples
    assert {header(p)[0] for p in got} == {97}
    assert len(got) == 12000 // frame * frame // 160  # the whole frames of 1.5 s
    assert {len(p) - 12 for p in got} == {kbit * 20 // 8}
    ordered = in_sequence(got)
    numbers = [header(p)[1] for p in ordered]
    assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(numbers))
    stamps = [header(p)[2] for p in ordered]
    assert all((b - a) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(stamps))
    if start is not None:  # the output wrapped too
        assert min(numbers) < 100 < 0xFF00 < max(numbers)
        assert min(stamps) < 1 << 16 and max(stamps) > 0xFFFF0000
    samples = decode(name, got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3

    got = exchange(caller, from_caller, rtp_packets(name, sine(8000, 1.0), pt=97), callee)
    assert {header(p)[0] for p in got} == {8} and len(got) >= 47
    samples = decode("PCMA/8000", got)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples) - SENT_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


def test_amr_codec_mode_request(server: ServerProcess) -> None:
    """A CMR in the AMR a party sends sets the mode of the AMR rtpgate sends it (as
    rtpengine): the caller (mode-set 0-4) gets 7.4 kbit/s (20-byte payloads) until it asks
    for mode 1 (5.15 kbit/s: 15 bytes); a request for mode 7, outside its mode-set, is
    ignored."""
    caller, callee = party(), party()
    fmtp = "mode-set=0,1,2,3,4"
    call_id, from_callee, from_caller = call(
        server, caller, callee, ("96", f"a=rtpmap:96 AMR/8000\r\na=fmtp:96 {fmtp}\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"),
        codec={"transcode": ["PCMA"], "set": ["AMR/8000/1/7400"]})
    amr = rtp_packets("AMR/8000", sine(8000, 0.2), pt=96, fmtp=fmtp)
    assert {p[12] >> 4 for p in amr} == {15}  # no request

    def asking(mode: int) -> list[bytes]:
        return [p[:12] + bytes([mode << 4 | p[12] & 0x0F]) + p[13:] for p in amr]

    def towards_caller() -> list[bytes]:
        pcma = rtp_packets("PCMA/8000", sine(8000, 0.4), pt=8)
        return exchange(callee, from_callee, pcma, caller)

    assert {len(p) - 12 for p in towards_caller()} == {20}
    assert len(exchange(caller, from_caller, asking(7), callee)) >= 8
    assert {len(p) - 12 for p in towards_caller()} == {20}
    assert len(exchange(caller, from_caller, asking(1), callee)) >= 8
    got = towards_caller()
    assert {len(p) - 12 for p in got} == {15}
    assert {(p[12] & 0x07) << 1 | p[13] >> 7 for p in got} == {1}  # ToC's FT (packed)
    samples = decode("AMR/8000", got, fmtp)[800:]
    assert abs(dominant(samples, 8000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


@pytest.mark.parametrize(("answer_ptime", "ms"), [("", 30), ("a=ptime:20\r\n", 20)])
def test_ptime_of_a_codec_transcode_spec(server: ServerProcess, answer_ptime: str,
                                         ms: int) -> None:
    """``codec-transcode: PCMU/8000/1//30``: the callee, whose answer names no ptime, gets
    the added PCMU in 30 ms packets; an ``a=ptime`` of its own wins (rtpengine 10.5 does both,
    checked with the same packets)."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(
        server, caller, callee, ("8", "a=rtpmap:8 PCMA/8000\r\n"),
        ("0", f"a=rtpmap:0 PCMU/8000\r\n{answer_ptime}"),
        codec={"transcode": ["PCMU/8000/1//30"]})
    got = exchange(caller, from_caller, rtp_packets("PCMA/8000", sine(8000, 1.2), pt=8),
                   callee)
    assert {(header(p)[0], len(p) - 12) for p in got} == {(0, 8 * ms)}
    assert len(got) == 1200 // ms
    stamps = [header(p)[2] for p in got]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {8 * ms}
    assert abs(dominant(decode("PCMU/8000", got)[800:], 8000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_passed_and_transcoded_packets_share_one_ssrc(server: ServerProcess) -> None:
    """The callee answered PCMU and PCMA to a PCMU caller: its PCMU goes to the caller as
    it is and its PCMA transcoded, both on one SSRC of rtpgate's (rtpengine maps the
    sender's SSRC wherever a direction transcodes, its pass-through packets included),
    numbered on from the sender's."""
    caller, callee = party(), party()
    call_id, from_callee, _ = call(
        server, caller, callee, ("0", "a=rtpmap:0 PCMU/8000\r\n"),
        ("0 8", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"),
        codec={"transcode": ["PCMA"]})

    def packet(pt: int, n: int) -> bytes:
        return struct.pack("!BBHII", 0x80, pt, 2000 + n, 4000 + 160 * n, 0x5678) + \
            (b"\xff" if pt == 0 else b"\xd5") * 160

    sent = [packet(0, n) for n in range(3)] + [packet(8, n) for n in range(3, 6)] + \
        [packet(0, 6)]
    got = exchange(callee, from_callee, sent, caller)
    heads = [header(p) for p in got]
    assert [(pt, seq) for pt, seq, _, _ in heads] == [(0, 2000 + n) for n in range(7)]
    assert len({h[3] for h in heads}) == 1 and heads[0][3] != 0x5678
    ng(server, "delete", **{"call-id": call_id})


def test_transcoded_packets_keep_the_senders_numbers(server: ServerProcess) -> None:
    """As rtpengine's: a PCMU packet transcoded to PCMA goes out with the sender's sequence
    number and timestamp (its own SSRC) and no marker bit; a lost packet leaves its gap; a
    new sender SSRC with other numbers continues the output contiguously."""
    caller, callee = party(), party()
    call_id, _from_callee, from_caller = call(
        server, caller, callee, ("0", "a=rtpmap:0 PCMU/8000\r\n"),
        ("8", "a=rtpmap:8 PCMA/8000\r\n"), codec={"transcode": ["PCMA"]})

    def pcmu(seq: int, ts: int, ssrc: int = 0x1234, marker: bool = False) -> bytes:
        return struct.pack("!BBHII", 0x80, (0x80 if marker else 0), seq & 0xFFFF, ts, ssrc) + \
            b"\xff" * 160

    sent = [pcmu(65530 + n, 3000 + 160 * n, marker=n == 0) for n in range(10)]
    del sent[5]  # lost on the way in
    got = exchange(caller, from_caller, sent, callee)
    heads = [header(p) for p in got]
    assert [(pt, seq, ts) for pt, seq, ts, _ in heads] == \
        [(8, (65530 + n) & 0xFFFF, 3000 + 160 * n) for n in range(10) if n != 5]
    assert len({ssrc for *_, ssrc in heads}) == 1 and heads[0][3] != 0x1234
    assert not any(p[1] & 0x80 for p in got)
    # the sender restarts: another SSRC, other numbers; the output carries on from its last
    got = exchange(caller, from_caller, [pcmu(100 + n, 90000 + 160 * n, 0x5678)
                                         for n in range(3)], callee)
    assert [header(p)[1] for p in got] == [(65530 + 10 + n) & 0xFFFF for n in range(3)]
    assert {header(p)[3] for p in got} == {heads[0][3]}
    ng(server, "delete", **{"call-id": call_id})
