"""``--recording-method=proc`` with Debian's real ``rtpengine-recording`` reading the spool: the
daemon turns the call into WAV files of what each party sent.

There is no rtpengine kernel module, so the daemon runs in a mount namespace of its own where
``/proc`` is a tmpfs holding links to the real proc's entries and ``/proc/rtpengine`` leads to
the spool's ``rtpengine-proc`` directory, where rtpgate keeps one FIFO per recorded stream."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from callhelp import dominant, make_call, pcmu, rtp, tone, wait_for
from rtpgate.testing import ServerProcess

DAEMON = shutil.which("rtpengine-recording")
UNSHARE = shutil.which("unshare")


def _daemon_script(spool: Path, out: Path, scratch: Path, extra: str = "") -> str:
    return f"""set -e
mkdir -p {scratch}/realproc
mount --rbind /proc {scratch}/realproc
mount -t tmpfs tmpfs /proc
for entry in {scratch}/realproc/*; do ln -s "$entry" "/proc/${{entry##*/}}"; done
ln -s {spool}/rtpengine-proc /proc/rtpengine
exec {DAEMON} --foreground --log-stderr --log-level=7 --table=0 --spool-dir={spool} \
    --output-dir={out} --output-format=wav --output-single --num-threads=2 {extra}
"""


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[bytes], Path]]]:
    if DAEMON is None:
        pytest.skip("rtpengine-recording (Debian package rtpengine-recording-daemon) is not "
                    "installed")
    if UNSHARE is None or subprocess.run(
            [UNSHARE, "--mount", "--", "/bin/sh", "-c", "mount -t tmpfs tmpfs /mnt"],
            capture_output=True).returncode != 0:
        pytest.skip("needs unshare --mount and mount (root) to give rtpengine-recording its "
                    "/proc/rtpengine")
    started: list[subprocess.Popen[bytes]] = []

    def start(spool: Path, extra: str = "") -> tuple[subprocess.Popen[bytes], Path]:
        out, scratch = tmp_path / "wav", tmp_path / "scratch"
        out.mkdir()
        scratch.mkdir()
        log = open(tmp_path / "daemon.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([UNSHARE or "unshare", "--mount", "--propagation", "private",
                                 "--", "/bin/sh", "-c", _daemon_script(spool, out, scratch, extra)],
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(proc)
        # inotify on the spool is set up before the threads start
        wait_for(lambda: "poller thread 1 running" in (tmp_path / "daemon.log").read_text(
            errors="replace") or proc.poll() is not None, what="rtpengine-recording")
        assert proc.poll() is None, (tmp_path / "daemon.log").read_text(errors="replace")
        return proc, out

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _open_fifos(pid: int) -> int:
    """How many of rtpgate's stream FIFOs the daemon has open."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += "/rtpengine-proc/" in os.readlink(fd)
        except OSError:
            continue
    return count


def _wav(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    return samples.astype(np.float64), rate


def test_rtpengine_recording_makes_wav_files_of_the_call(
        rtpgate_server: Callable[..., ServerProcess], daemon: Callable[..., tuple[
            subprocess.Popen[bytes], Path]], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--recording-method=proc",
                            "--delete-delay=0")
    proc, out = daemon(spool)
    call = make_call(server, **{"record call": "yes", "metadata": "case=proc"})
    # both parties' RTP and RTCP streams
    wait_for(lambda: _open_fifos(proc.pid) >= 4, what="the daemon opening the streams")
    meta = wait_for(lambda: "\nTAG 1\n1:\nb\n" in (text := next(spool.glob("*.meta")).read_text())
                    and text, what="the answerer's tag")  # b: known from the answer
    assert "CALL-ID\n" in meta and "\nMEDIA 1 PAYLOAD TYPE 0\n9:\nPCMU/8000\n" in meta
    assert "\nTAG 0\n1:\na\n" in meta and "\nSDP from 1 after answer\n" in meta

    seconds = 2.0
    from_a, from_b = pcmu(tone(seconds, 1000)), pcmu(tone(seconds, 440))
    start = time.monotonic()
    for i, (pa, pb) in enumerate(zip(from_a, from_b, strict=True)):
        assert call.send("a", rtp(i, pa, 0xAAAA)) == rtp(i, pa, 0xAAAA)
        assert call.send("b", rtp(i, pb, 0xBBBB)) == rtp(i, pb, 0xBBBB)
        time.sleep(max(0.0, start + (i + 1) * 0.02 - time.monotonic()))
    assert call.ng("delete")["result"] == "ok"
    wait_for(lambda: not list(spool.glob("*.meta")), what="the metadata file removed")

    # the daemon closes its outputs when the metadata file goes
    wavs = wait_for(lambda: len(list(out.rglob("*.wav"))) >= 2 and sorted(out.rglob("*.wav")),
                    timeout=20, what="two WAV files")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    heard = {}
    for wav in wavs:
        samples, rate = _wav(wav)
        assert rate == 8000
        # nearly all of the two seconds, each of its own party
        assert abs(len(samples) / rate - seconds) < 0.2, (wav, len(samples))
        heard[round(dominant(samples[800:], rate))] = wav
    assert sorted(heard) == [440, 1000], heard
    assert server.stop() == 0
    # every packet is accounted for: handed to the daemon, or (a daemon that did not take the
    # one before within 20 ms on a loaded machine) counted as an error, with the reason logged
    found = re.search(r"recording: (\d+) packets written, 0 dropped \(queue full\), (\d+) errors",
                      server.log)
    assert found, server.log
    written, errors = int(found.group(1)), int(found.group(2))
    assert written + errors == 2 * len(from_a) and errors <= 10, server.log
    assert not errors or "rtpengine-recording reads too slowly" in server.log


def test_forwarding_through_rtpengine_recording(
        rtpgate_server: Callable[..., ServerProcess], daemon: Callable[..., tuple[
            subprocess.Popen[bytes], Path]], tmp_path: Path) -> None:
    """``start forwarding`` with the proc method, as rtpengine: the call's streams go to the
    daemon with ``RECORDING 0`` and ``FORWARDING 1`` (no audio file is written), and the
    daemon's ``--forward-to`` socket gets the call's metadata, then every packet (its IP/UDP
    header and the RTP packet); ``directional`` forwarding marks only that party's streams
    (``STREAM n FORWARDING 1``)."""
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--recording-method=proc",
                            "--delete-delay=0")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(tmp_path / "forward.sock"))
    listener.listen(4)
    listener.settimeout(20)
    proc, out = daemon(spool, f"--forward-to={tmp_path / 'forward.sock'}")
    call = make_call(server)
    assert call.ng("start forwarding", metadata="fwd=1")["result"] == "ok"
    conn, _ = listener.accept()  # the daemon connects once it reads METADATA
    conn.settimeout(5)
    assert conn.recv(65536) == b"fwd=1"
    meta_file = next(spool.glob("*.meta"))
    text = meta_file.read_text()
    assert "\nRECORDING 0\n0:\n\n" in text and "\nFORWARDING 1\n0:\n\n" in text
    wait_for(lambda: _open_fifos(proc.pid) >= 4, what="the daemon opening the streams")

    payload = pcmu(tone(0.02, 1000))[0]
    sent = []
    for i in range(5):
        for sender, ssrc in (("a", 0xAAAA), ("b", 0xBBBB)):
            packet = rtp(i, payload, ssrc)
            assert call.send(sender, packet) == packet
            sent.append(packet)
            time.sleep(0.005)
    got = [conn.recv(65536) for _ in sent]
    # each forwarded packet is the IPv4/UDP header rtpengine fakes and the RTP packet
    assert sorted(g[28:] for g in got) == sorted(sent)
    assert all(g[0] == 0x45 and g[9] == 17 for g in got)

    # nothing forwards: the recording ends (the metadata file goes), as rtpengine's
    # recording_stop; forwarding one party starts a new one
    assert call.ng("stop forwarding")["result"] == "ok"
    wait_for(lambda: not meta_file.exists(), what="the metadata file removed")
    assert call.ng("start forwarding", **{"from-tag": "b",
                                          "flags": ["directional"]})["result"] == "ok"
    meta_file = wait_for(lambda: next(spool.glob("*.meta"), None), what="a new metadata file")
    text = wait_for(lambda: (t := meta_file.read_text()).count(" FORWARDING ") >= 4 and t,
                    what="the per-stream FORWARDING sections")
    assert "\nFORWARDING 0\n0:\n\n" in text
    streams = dict(re.findall(r"STREAM (\d+) details\n\d+:\nTAG (\d+) ", text))
    flags = dict(re.findall(r"STREAM (\d+) FORWARDING (\d)\n", text))  # the last of each
    assert flags and {s: flags[s] for s in streams} == {
        s: "1" if tag == "1" else "0" for s, tag in streams.items()}
    assert call.ng("delete")["result"] == "ok"
    wait_for(lambda: not list(spool.glob("*.meta")), what="the metadata file removed")
    assert not list(out.rglob("*.wav"))  # forwarded, never recorded
    conn.close()
    listener.close()
