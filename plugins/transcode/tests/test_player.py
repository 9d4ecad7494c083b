"""The media player over a real rtpgate: ``play media`` of a WAV file made here reaches the
party as the codec it receives (decoded here), for the file's duration, on the stream it was
receiving (SSRC, sequence numbers, timestamps continue), in place of the peer's audio, which
resumes afterwards; ``stop media`` ends it early; ``play silence``; bad sources are ng errors
that change nothing."""

from __future__ import annotations

import itertools
import socket
import struct
import time
import uuid
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from arrivals import drain, stamp_arrivals
from audio import decode, dominant, header, level_db, rtp_packets, sine
from rtpgate.testing import ServerProcess
from test_transcoded_call import LOCAL, call, exchange, inband_digits, ng, party, sdp

PCMA = ("8", "a=rtpmap:8 PCMA/8000\r\n")
OPUS = ("96", "a=rtpmap:96 opus/48000/2\r\n")
WAV_DB = -10.0 - 3.01


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0")


def wav(path: Path, seconds: float, freq: float = 1000.0, rate: int = 16000) -> Path:
    """A mono 16-bit WAV file of a sine (-10 dBFS peak)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(sine(rate, seconds, freq).tobytes())
    return path


def frequency(packet: bytes) -> float:
    """The dominant frequency of one PCMA packet."""
    return dominant(decode("PCMA/8000", [packet]), 8000)


def pcma_call(server: ServerProcess) -> tuple[str, socket.socket, socket.socket, int,
                                                  list[bytes]]:
    """A plain PCMA call where the callee's 500 Hz tone already reaches the caller; the
    call-id, caller, callee, the port the callee sends to, and the rest of its tone."""
    caller, callee = party(), party()
    call_id, from_callee, _ = call(server, caller, callee, PCMA, PCMA)
    tone = rtp_packets("PCMA/8000", sine(8000, 4.0, 500.0), pt=8)
    got = exchange(callee, from_callee, tone[:10], caller)
    assert len(got) == 10 and all(abs(frequency(p) - 500) <= 25 for p in got)
    return call_id, caller, callee, from_callee, tone[10:]


def test_play_media_replaces_and_resumes(server: ServerProcess, tmp_path: Path) -> None:
    call_id, caller, callee, from_callee, tone = pcma_call(server)
    reply = ng(server, "play media", **{"call-id": call_id, "from-tag": "a",
                                        "file": str(wav(tmp_path / "prompt.wav", 1.0))})
    assert reply == {"result": "ok", "duration": 1000}, reply
    got = exchange(callee, from_callee, tone[:90], caller)
    played = [p for p in got if abs(frequency(p) - 1000) <= 25]
    resumed = [p for p in got if abs(frequency(p) - 500) <= 25]
    assert 49 <= len(played) <= 51  # one second of 20 ms packets
    assert got[:len(played)] == played and len(resumed) >= 30  # then the callee again
    assert got[-len(resumed):] == resumed
    heads = [header(p) for p in played]
    callee_ssrc = header(tone[0])[3]
    assert {h[0] for h in heads} == {8} and {h[3] for h in heads} == {callee_ssrc}
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    # the first played packet continues the stream the caller was receiving: it takes the
    # numbers of the callee's packet it replaced
    assert (heads[0][1] - header(tone[0])[1]) & 0xFFFF in (0, 1)
    samples = decode("PCMA/8000", played)
    assert abs(dominant(samples, 8000) - 1000) <= 20
    assert abs(level_db(samples[400:-400]) - WAV_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


def test_play_media_to_an_offerer_not_answered_yet(server: ServerProcess, tmp_path: Path
                                                   ) -> None:
    """After an offer only, ``play media`` to the offerer plays in the codec of its own
    offer (rtpgate has written it no SDP yet), as rtpengine does."""
    caller = party()
    call_id = uuid.uuid4().hex
    assert ng(server, "offer", **{"call-id": call_id, "from-tag": "a", "sdp": sdp(
        caller.getsockname()[1], *PCMA)})["result"] == "ok"
    reply = ng(server, "play media", **{"call-id": call_id, "from-tag": "a",
                                        "file": str(wav(tmp_path / "p.wav", 0.2))})
    assert reply == {"result": "ok", "duration": 200}, reply
    got = collect(caller, 2.0)
    assert len(got) == 10 and {header(p)[0] for p in got} == {8}
    assert abs(dominant(decode("PCMA/8000", got), 8000) - 1000) <= 20
    ng(server, "delete", **{"call-id": call_id})


def test_play_media_again_continues_the_stream(server: ServerProcess, tmp_path: Path
                                               ) -> None:
    """A second ``play media`` to a party whose peer sends nothing continues the stream of
    the first (its SSRC, the next sequence number and timestamp; the marker bit on its first
    packet), as rtpengine's player."""
    caller, callee = party(), party()
    call_id, _, _ = call(server, caller, callee, PCMA, PCMA)
    prompt = str(wav(tmp_path / "p.wav", 0.1))
    played = []
    for _ in range(2):
        reply = ng(server, "play media", **{"call-id": call_id, "from-tag": "a",
                                            "file": prompt})
        assert reply == {"result": "ok", "duration": 100}, reply
        played.append(collect(caller, 2.0))
    assert [len(p) for p in played] == [5, 5]
    heads = [header(p) for p in played[0] + played[1]]
    assert len({h[3] for h in heads}) == 1
    assert all((b[1] - a[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(heads))
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 160 for a, b in itertools.pairwise(heads))
    assert [bool(p[1] & 0x80) for p in played[1]] == [True] + [False] * 4
    ng(server, "delete", **{"call-id": call_id})


def stamped_exchange(sender: socket.socket, to: int, packets: list[bytes],
                     receiver: socket.socket) -> list[tuple[bytes, float]]:
    """:func:`exchange`, each packet with the kernel's stamp of its arrival (``time.time()``
    seconds; on loopback when rtpgate sent it)."""
    stamp_arrivals(receiver)
    got: list[tuple[bytes, float]] = []
    for data in packets:
        sender.sendto(data, (LOCAL, to))
        deadline = time.monotonic() + 0.02
        while time.monotonic() < deadline:
            got += drain(receiver)
            time.sleep(0.002)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        got += drain(receiver)
        time.sleep(0.005)
    return got


def test_stop_media_ends_it_early(server: ServerProcess, tmp_path: Path) -> None:
    call_id, caller, callee, from_callee, tone = pcma_call(server)
    reply = ng(server, "play media", **{"call-id": call_id, "from-tag": "a",
                                        "file": str(wav(tmp_path / "long.wav", 3.0))})
    assert reply["duration"] == 3000
    first = exchange(callee, from_callee, tone[:25], caller)
    assert sum(abs(frequency(p) - 1000) <= 25 for p in first) >= 20
    assert ng(server, "stop media", **{"call-id": call_id, "from-tag": "a"})["result"] == "ok"
    stopped = time.time()
    after = stamped_exchange(callee, from_callee, tone[25:75], caller)
    # none of the file's packets sent after the stop (before it: still on their way, as many
    # as the player's clock sent while a loaded machine was slow to ask for the stop; the last
    # of them may reach the socket just after the reply, the player's next would come a
    # packet time later)
    late = [round(at - stopped, 3) for p, at in after
            if abs(frequency(p) - 1000) <= 25 and at > stopped + 0.02]
    assert not late, late
    assert sum(abs(frequency(p) - 500) <= 25 for p, _ in after) >= 45
    ng(server, "delete", **{"call-id": call_id})


def test_play_media_to_a_transcoded_opus_party(server: ServerProcess, tmp_path: Path
                                               ) -> None:
    """The caller offered only opus and receives transcoded audio: the file reaches it as
    opus, from a 44.1 kHz WAV, repeated twice."""
    caller, callee = party(), party()
    call_id, _, _ = call(server, caller, callee, OPUS, PCMA, codec={"transcode": ["PCMA"]})
    reply = ng(server, "play media", **{"call-id": call_id, "from-tag": "a", "repeat-times": 2,
                                        "file": str(wav(tmp_path / "p.wav", 0.5, rate=44100))})
    assert reply["duration"] == 500
    got = collect(caller, 1.6)
    assert 48 <= len(got) <= 51 and {header(p)[0] for p in got} == {96}
    assert all((b[2] - a[2]) & 0xFFFFFFFF == 960 for a, b in
               itertools.pairwise(header(p) for p in got))
    samples = decode("opus/48000/2", got)[4800:]
    assert abs(dominant(samples, 48000) - 1000) <= 20
    assert abs(level_db(samples) - WAV_DB) <= 3
    ng(server, "delete", **{"call-id": call_id})


def collect(sock: socket.socket, seconds: float) -> list[bytes]:
    got = []
    sock.settimeout(seconds)
    try:
        while True:
            got.append(sock.recv(4096))
            sock.settimeout(0.3)  # until 300 ms without a packet
    except TimeoutError:
        return got


def test_play_silence(server: ServerProcess) -> None:
    call_id, caller, callee, from_callee, tone = pcma_call(server)
    reply = ng(server, "play silence", **{"call-id": call_id, "from-tag": "a",
                                          "duration": 400})
    assert reply["result"] == "ok", reply
    got = exchange(callee, from_callee, tone[:50], caller)
    quiet = [p for p in got if level_db(decode("PCMA/8000", [p])) < -60]
    assert 19 <= len(quiet) <= 21 and got[:len(quiet)] == quiet
    assert all(abs(frequency(p) - 500) <= 25 for p in got[len(quiet):])
    ng(server, "delete", **{"call-id": call_id})


def test_play_dtmf_tones_in_the_codec_the_party_receives(server: ServerProcess) -> None:
    """PCMU offered with PCMA added, the callee answers PCMA: ``play DTMF`` from the caller
    reaches the callee as tones in PCMA (the codec it receives, not the first offered), in
    place of the caller's transcoded packets, on their numbers and without a marker bit (the
    stream continues, as rtpengine's)."""
    caller, callee = party(), party()
    call_id, _, from_caller = call(server, caller, callee, ("0", "a=rtpmap:0 PCMU/8000\r\n"),
                                   PCMA, codec={"transcode": ["PCMA"]}, flags=["inject DTMF"])
    tone = rtp_packets("PCMU/8000", sine(8000, 1.2, 500.0), pt=0)
    assert len(exchange(caller, from_caller, tone[:10], callee)) >= 8
    assert ng(server, "play DTMF", **{"call-id": call_id, "from-tag": "a", "code": "4",
                                      "duration": 200}) == {"result": "ok"}
    got = exchange(caller, from_caller, tone[10:], callee)
    assert {header(p)[0] for p in got} == {8} and not any(p[1] & 0x80 for p in got)
    assert all((header(b)[1] - header(a)[1]) & 0xFFFF == 1 for a, b in itertools.pairwise(got))
    assert inband_digits(decode("PCMA/8000", got)) == "4"
    ng(server, "delete", **{"call-id": call_id})


@pytest.mark.parametrize(("keys", "error"), [
    ({"file": "/nonexistent/prompt.wav"}, "Failed to start media playback from file"),
    ({"file": "TEXT"}, "Failed to start media playback from file"),
    ({"blob": "not a media file at all"}, "Failed to start media playback from blob"),
    ({}, "No media file specified"),
    ({"call-id": "nope", "file": "WAV"}, "Unknown call-ID"),
    ({"from-tag": "zz", "file": "WAV"}, "From-tag given, but no such tag exists"),
])
def test_bad_sources_change_nothing(server: ServerProcess, tmp_path: Path,
                                    keys: dict[str, str], error: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 100)
    files = {"TEXT": str(text), "WAV": str(wav(tmp_path / "ok.wav", 0.5))}
    call_id, caller, callee, from_callee, tone = pcma_call(server)
    request = {"call-id": call_id, "from-tag": "a", **keys}
    if "file" in request:
        request["file"] = files.get(request["file"], request["file"])
    reply = ng(server, "play media", **request)
    assert reply == {"result": "error", "error-reason": error}
    got = exchange(callee, from_callee, tone[:20], caller)
    assert len(got) == 20 and all(abs(frequency(p) - 500) <= 25 for p in got)
    ng(server, "delete", **{"call-id": call_id})


PCMA_TE = ("8 101", "a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                    "a=fmtp:101 0-15\r\n")


def injecting_call(server: ServerProcess, offer: tuple[str, str], answer: tuple[str, str],
                   **keys: object) -> tuple[str, socket.socket, socket.socket, int]:
    """A call whose callee has sent some audio (its first codec) already: rtpengine injects
    DTMF only into a stream it has seen an SSRC on."""
    caller, callee = party(), party()
    call_id, from_callee, _ = call(server, caller, callee, offer, answer, **keys)
    pt = int(answer[0].split()[0])
    tone = rtp_packets({0: "PCMU/8000", 8: "PCMA/8000"}[pt], sine(8000, 0.2, 500.0), pt=pt)
    assert len(exchange(callee, from_callee, tone, caller)) >= len(tone) - 2
    return call_id, caller, callee, from_callee


def events_played(server: ServerProcess, requests: list[dict[str, object]]
                  ) -> tuple[list[bytes], list[bytes]]:
    """``play DTMF`` from the callee of a new injecting call (PCMA with telephone-event on
    both sides), once for each of ``requests`` (its keys), then the callee's 600 ms of a
    500 Hz tone sent at once (the events take the place of the callee's packets one by one,
    whatever their pace); what the caller gets.  The player plays on its own clock when the
    callee is quiet for two packet times after it started (``ADOPT_WAIT``) or three later on
    (``QUIET``): a loaded test can be that slow between the first request and the packets,
    which is another case (tested apart), so the call is made again then, up to five times.
    Returns (sent, got)."""
    sent = rtp_packets("PCMA/8000", sine(8000, 0.6, 500.0), pt=8)
    for _ in range(5):
        call_id, caller, callee, from_callee = injecting_call(server, PCMA_TE, PCMA_TE,
                                                              flags=["inject DTMF"])
        asked = time.monotonic()
        for keys in requests:
            assert ng(server, "play DTMF", **{"call-id": call_id, "from-tag": "b",
                                              **keys}) == {"result": "ok"}
        for packet in sent:
            callee.sendto(packet, (LOCAL, from_callee))
        in_time = time.monotonic() - asked < 0.035
        got = exchange(callee, from_callee, [], caller)
        ng(server, "delete", **{"call-id": call_id})
        if in_time:
            return sent, got
        print("the callee's packets came late for the player: again")
    pytest.fail("the callee's packets never came within 35 ms of the first play DTMF")


def test_play_dtmf_as_rfc4733_events(server: ServerProcess) -> None:
    """Both parties negotiated telephone-event, the offer had ``inject DTMF``: ``play
    DTMF`` from the callee reaches the caller as RFC 4733 events in place of the callee's
    packets, as rtpengine sends them: a 200 ms digit is ten packets on the timestamp of the
    first packet it replaces (durations growing by 160), then its end three times one packet
    time later (duration 1760); the callee's audio then flows again, numbered on after the
    events (two more packets than it replaced)."""
    sent, got = events_played(server, [{"code": "5", "duration": 200, "volume": 10}])
    _, seq0, ts0, ssrc = header(sent[0])
    heads = [header(p) for p in got]
    assert len(got) == len(sent) + 2 and {h[3] for h in heads} == {ssrc}
    assert [(h[1] - seq0) & 0xFFFF for h in heads] == list(range(len(got)))
    events = [struct.unpack("!BBH", p[12:16]) for p in got[:13]]
    assert {h[0] for h in heads[:13]} == {101} and {h[2] for h in heads[:13]} == {ts0}
    assert [e[0] for e in events] == [5] * 13 and all(e[1] & 0x3F == 10 for e in events)
    assert [e[2] for e in events] == [160 * i for i in range(1, 11)] + [1760] * 3
    assert [bool(e[1] & 0x80) for e in events] == [False] * 10 + [True] * 3
    assert got[0][1] & 0x80 and not any(p[1] & 0x80 for p in got[1:])
    # the callee's audio after the event's end packet time, on its own timestamps
    assert [h[2] for h in heads[13:]] == [header(p)[2] for p in sent[11:]]
    assert all(h[0] == 8 and abs(frequency(p) - 500) <= 25
               for h, p in zip(heads[13:], got[13:], strict=True))


def test_play_dtmf_queues_the_digits_of_a_second_request(server: ServerProcess) -> None:
    """A second ``play DTMF`` while the first plays is queued after it (as rtpengine's):
    the second digit starts ``pause`` after the first one's end, the callee's audio fills
    the pause, and each event's end counts two packets more."""
    sent, got = events_played(server, [
        {"code": code, "duration": 100, "volume": volume, "pause": 100}
        for code, volume in (("1", 10), ("9", 6))])
    _, seq0, ts0, _ = header(sent[0])
    heads = [header(p) for p in got]
    assert len(got) == len(sent) + 4
    assert [(h[1] - seq0) & 0xFFFF for h in heads] == list(range(len(got)))
    kinds = [(h[0], (h[2] - ts0) // 160, p[12] if h[0] == 101 else None)
             for h, p in zip(heads, got, strict=True)]
    first = [(101, 0, 1)] * 8  # frames 0-4, the end at frame 5 three times
    pause = [(8, n, None) for n in range(6, 10)]  # frames 6-9: the callee's audio
    second = [(101, 10, 9)] * 8  # frames 10-14, the end at frame 15 three times
    rest = [(8, n, None) for n in range(16, len(sent))]
    assert kinds == first + pause + second + rest
    assert got[8 + 4 + 7][13] == 0x80 | 6 and struct.unpack("!H", got[19][14:16]) == (960,)


def test_play_dtmf_in_band(server: ServerProcess) -> None:
    """Without telephone-event the caller hears the digits as tones in its PCMA."""
    call_id, caller, _, _ = injecting_call(server, PCMA, PCMA, flags=["inject DTMF"])
    reply = ng(server, "play DTMF", **{"call-id": call_id, "from-tag": "b", "code": "1#9",
                                       "duration": 120, "pause": 100})
    assert reply == {"result": "ok"}, reply
    got = collect(caller, 1.0)
    assert {header(p)[0] for p in got} == {8} and 31 <= len(got) <= 35
    assert inband_digits(decode("PCMA/8000", got)) == "1#9"
    ng(server, "delete", **{"call-id": call_id})


def test_play_dtmf_without_inject_dtmf_as_rtpengine(server: ServerProcess) -> None:
    """A call that neither transcodes nor had ``inject DTMF``, as rtpengine 10.5 answers it:
    before the generating party sent anything, 'No SSRC context present for DTMF injection';
    after, "ok" and nothing is played (its peer keeps hearing it)."""
    caller, callee = party(), party()
    call_id, from_callee, _ = call(server, caller, callee, PCMA_TE, PCMA_TE)
    keys = {"call-id": call_id, "from-tag": "b", "code": "5"}
    assert ng(server, "play DTMF", **keys) == {
        "result": "error", "error-reason": "No SSRC context present for DTMF injection"}
    tone = rtp_packets("PCMA/8000", sine(8000, 1.0, 500.0), pt=8)
    assert len(exchange(callee, from_callee, tone[:5], caller)) == 5
    assert ng(server, "play DTMF", **keys) == {"result": "ok"}
    got = exchange(callee, from_callee, tone[5:], caller)
    assert {header(p)[0] for p in got} == {8} and len(got) == len(tone) - 5
    assert all(abs(frequency(p) - 500) <= 25 for p in got)
    ng(server, "delete", **{"call-id": call_id})


PCMU_TE = ("0 101", "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")


@pytest.mark.parametrize(("offer", "answer", "flags", "heard"), [
    (PCMA, ("0", "a=rtpmap:0 PCMU/8000\r\n"), [], ""),
    (PCMA_TE, PCMU_TE, [], "events"),
    (PCMA, ("0", "a=rtpmap:0 PCMU/8000\r\n"), ["inject DTMF"], "7"),
])
def test_play_dtmf_on_a_transcoded_call(server: ServerProcess, offer: tuple[str, str],
                                        answer: tuple[str, str], flags: list[str],
                                        heard: str) -> None:
    """PCMA <-> PCMU, as rtpengine 10.5 does it: without ``inject DTMF`` the caller gets the
    digit only as RFC 4733 events where it has telephone-event, else nothing; with it, the
    tones."""
    call_id, caller, _, _ = injecting_call(server, offer, answer,
                                           codec={"transcode": ["PCMU"]}, flags=flags)
    assert ng(server, "play DTMF", **{"call-id": call_id, "from-tag": "b", "code": "7",
                                      "duration": 200}) == {"result": "ok"}
    got = collect(caller, 1.0)
    if heard == "events":
        assert {p[12] for p in got if header(p)[0] == 101} == {7}
    else:
        assert {header(p)[0] for p in got} <= {8}
        assert (inband_digits(decode("PCMA/8000", got)) if got else "") == heard
    ng(server, "delete", **{"call-id": call_id})


@pytest.mark.parametrize(("keys", "error"), [
    ({"code": "X"}, "Invalid 'code' specified"),
    ({}, "No valid 'code' specified"),
    ({"code": "1", "duration": 10}, "Out of range 'duration' specified"),
    ({"code": "1", "pause": 9999}, "Out of range 'pause' specified"),
])
def test_play_dtmf_bad_input(server: ServerProcess, keys: dict[str, object], error: str
                             ) -> None:
    call_id, caller, callee, from_callee, tone = pcma_call(server)
    reply = ng(server, "play DTMF", **{"call-id": call_id, "from-tag": "b", **keys})
    assert reply == {"result": "error", "error-reason": error}
    got = exchange(callee, from_callee, tone[:20], caller)
    assert len(got) == 20 and all(abs(frequency(p) - 500) <= 25 for p in got)
    ng(server, "delete", **{"call-id": call_id})
