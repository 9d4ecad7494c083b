"""``--recording-method=pcap`` over real sockets: the pcap tshark reads holds every packet of
the call in the order rtpgate received them, and its audio decodes to what was sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from callhelp import (
    decode_pcmu,
    dominant,
    make_call,
    ng,
    pcmu,
    read_pcap,
    rtp,
    sdp,
    tone,
    wait_for,
)
from rtpgate.testing import ServerProcess


def _files(spool: Path) -> tuple[Path, Path]:
    """The finished metadata file and the pcap it names."""
    meta = wait_for(lambda: list((spool / "metadata").glob("*.txt")), what="metadata file")
    assert len(meta) == 1, meta
    text = meta[0].read_text()
    return meta[0], Path(text.splitlines()[0])


def test_pcap_holds_every_packet_in_order_and_the_audio(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    call = make_call(server)
    assert call.ng("start recording", metadata="case=42")["result"] == "ok"

    sent_a, sent_b = pcmu(tone(1.0, 1000)), pcmu(tone(1.0, 440))
    order = []
    for i, (pa, pb) in enumerate(zip(sent_a, sent_b, strict=True)):
        packet_a, packet_b = rtp(i, pa, 0x1111), rtp(i, pb, 0x2222)
        assert call.send("a", packet_a) == packet_a
        assert call.send("b", packet_b) == packet_b
        order += [packet_a, packet_b]
    assert call.ng("stop recording")["result"] == "ok"
    # after stop, nothing more is recorded
    assert call.send("a", rtp(999, sent_a[0], 0x1111))
    meta, pcap_file = _files(spool)
    assert pcap_file.parent == spool / "pcaps"

    captured = read_pcap(pcap_file)
    assert [c.data for c in captured] == order
    a_port, b_port = call.a.getsockname()[1], call.b.getsockname()[1]
    assert {c.src for c in captured[0::2]} == {("127.0.0.1", a_port)}
    assert {c.dst[1] for c in captured[0::2]} == {call.to_a}
    assert {c.src for c in captured[1::2]} == {("127.0.0.1", b_port)}
    assert {c.dst[1] for c in captured[1::2]} == {call.to_b}

    got_a = decode_pcmu([c.data[12:] for c in captured[0::2]])
    got_b = decode_pcmu([c.data[12:] for c in captured[1::2]])
    np.testing.assert_array_equal(got_a, decode_pcmu(sent_a))
    np.testing.assert_array_equal(got_b, decode_pcmu(sent_b))
    assert abs(dominant(got_a) - 1000) <= 10
    assert abs(dominant(got_b) - 440) <= 10

    text = meta.read_text()
    assert "SDP mode: answer\nSDP before RTP packet: 1\n" not in text  # started after the answer
    assert "call end time:" in text
    assert text.rstrip().endswith("case=42")


def test_record_call_on_offer_pause_and_resume(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--recording-format=eth",
                            "--delete-delay=0")
    call = make_call(server, **{"record call": "yes"})
    payload = pcmu(tone(0.02, 1000))[0]
    recorded = [rtp(i, payload, 7) for i in range(5)]
    for packet in recorded:
        call.send("a", packet)
    assert call.ng("pause recording")["result"] == "ok"
    for i in range(5, 10):
        call.send("a", rtp(i, payload, 7))
    assert call.ng("start recording")["result"] == "ok"
    resumed = [rtp(i, payload, 7) for i in range(10, 15)]
    for packet in resumed:
        call.send("a", packet)
    assert call.ng("delete")["result"] == "ok"
    meta, pcap_file = _files(spool)
    assert [c.data for c in read_pcap(pcap_file)] == recorded + resumed
    text = meta.read_text()
    # record call=yes on the offer: both SDPs rtpgate sent are there, before the first packet
    assert "SDP mode: offer\nSDP before RTP packet: 1\n" in text
    assert "SDP mode: answer\nSDP before RTP packet: 1\n" in text
    assert text.count("m=audio ") == 2
    assert "Recording paused at:" in text and "Recording resumed at:" in text


def test_recording_file_and_recording_path(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool, chosen, elsewhere = tmp_path / "spool", tmp_path / "chosen.pcap", tmp_path / "dir"
    elsewhere.mkdir()
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    first = make_call(server)
    assert first.ng("start recording", **{"recording-file": str(chosen)})["result"] == "ok"
    packet = rtp(1, b"\xff" * 160, 3)
    first.send("a", packet)
    assert first.ng("delete")["result"] == "ok"
    meta, pcap_file = _files(spool)
    assert pcap_file == chosen
    assert [c.data for c in read_pcap(chosen)] == [packet]
    meta.unlink()

    second = make_call(server)
    assert second.ng("start recording", **{"recording-path": str(elsewhere)})["result"] == "ok"
    second.send("b", packet)
    assert second.ng("stop recording")["result"] == "ok"
    _, pcap_file = _files(spool)
    assert pcap_file.parent == elsewhere and pcap_file.name.startswith(second.call_id + "-")
    assert [c.data for c in read_pcap(pcap_file)] == [packet]


def test_recordings_key_names_the_pcap_and_discard_removes_it(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """Offer and answer replies list the pcap as ``recordings`` (first key, as rtpengine's
    ``response_pcap``) while the call records; ``record call=discard`` and ``stop recording``
    with ``discard-recording`` end the recording and remove its pcap and metadata."""
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    call = make_call(server, **{"record call": "yes"})
    answer = {"call-id": call.call_id, "from-tag": "a", "to-tag": "b",
              "sdp": sdp(call.b.getsockname()[1])}
    reply = ng(server, "answer", **answer)
    assert list(reply) == ["recordings", "sdp", "result"]
    (pcap_path,) = reply["recordings"]
    assert Path(pcap_path).parent == spool / "pcaps"
    assert Path(pcap_path).name.startswith(call.call_id + "-")
    packet = rtp(1, b"\xff" * 160, 3)
    call.send("a", packet)
    wait_for(lambda: Path(pcap_path).exists(), what="the pcap")
    reply = ng(server, "answer", **answer, **{"record call": "discard"})
    assert list(reply) == ["sdp", "result"]
    wait_for(lambda: not Path(pcap_path).exists() and not list((spool / "tmp").iterdir()),
             what="the pcap and its metadata discarded")
    assert not list((spool / "metadata").iterdir())

    # a new recording is a new pcap; stop recording with discard-recording discards it too
    assert call.ng("start recording")["result"] == "ok"
    (second,) = ng(server, "answer", **answer)["recordings"]
    assert second != pcap_path
    call.send("b", packet)
    assert call.ng("stop recording", flags=["discard-recording"])["result"] == "ok"
    wait_for(lambda: not Path(second).exists(), what="the second pcap discarded")
    assert "recordings" not in ng(server, "answer", **answer)
    # a plain stop keeps what was recorded
    assert call.ng("start recording")["result"] == "ok"
    call.send("a", packet)
    assert call.ng("stop recording")["result"] == "ok"
    _, kept = _files(spool)
    assert [c.data for c in read_pcap(kept)] == [packet]


def test_packets_of_changing_sizes_get_their_own_headers(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """The tap keeps a stream's IP/UDP headers while the packet size stays the same: a
    packet of another size gets its own lengths (tshark reads the UDP payload by them)."""
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    call = make_call(server, **{"record call": "yes"})
    sent = [rtp(i, bytes([i]) * size, 4) for i, size in enumerate((160, 160, 20, 320, 160, 1))]
    for packet in sent:
        assert call.send("a", packet) == packet
    assert call.ng("delete")["result"] == "ok"
    _, pcap_file = _files(spool)
    assert [c.data for c in read_pcap(pcap_file)] == sent


def test_recording_starts_on_a_stream_already_relayed(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """A stream that has relayed for a while (on the native read loop when rtpgate's C
    extension is built: a confirmed endpoint, no stage) gets the recording tap when
    recording starts, and every packet from then on is recorded; after the stop none is."""
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    call = make_call(server)
    for i in range(50):
        packet = rtp(i, bytes([i]) * 160, 6)
        assert call.send("a", packet) == packet
    assert call.ng("start recording")["result"] == "ok"
    recorded = [rtp(i, bytes([i]) * 160, 6) for i in range(50, 70)]
    for packet in recorded:
        assert call.send("a", packet) == packet
    assert call.ng("stop recording")["result"] == "ok"
    for i in range(70, 90):
        assert call.send("a", rtp(i, bytes([i]) * 160, 6))
    _, pcap_file = _files(spool)
    assert [c.data for c in read_pcap(pcap_file)] == recorded
