"""A recording directory that cannot be used, and a disk that fills: clear errors, counted and
logged drops, and the media keeps flowing."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from callhelp import make_call, ng, read_pcap, rtp, wait_for
from rtpgate.testing import ServerError, ServerProcess


def test_a_spool_that_cannot_be_made_stops_the_start(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ServerError) as failed:
        rtpgate_server(f"--recording-dir={blocker}/spool")
    assert "recording directory" in str(failed.value), failed.value


def test_an_unwritable_pcap_directory_is_logged_and_counted(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    shutil.rmtree(spool / "pcaps")
    (spool / "pcaps").write_text("a file where the directory was")
    call = make_call(server)
    assert call.ng("start recording")["result"] == "ok"
    for i in range(20):
        packet = rtp(i, b"\xff" * 160, 5)
        assert call.send("a", packet) == packet
    assert "cannot write recording file" in wait_for(
        lambda: "cannot write recording file" in server.log and server.log, what="log")
    # counted while the server runs: /metrics (rtpgate-metrics) has the writer's counters
    metrics = wait_for(lambda: "recording_errors_total 21.0" in (
        text := server.http("GET", "/metrics")[2].decode()) and text, what="the counters")
    assert "recording_packets_written_total 0.0" in metrics
    assert "recording_calls 1.0" in metrics
    assert call.ng("delete")["result"] == "ok"
    assert server.stop() == 0
    assert "0 packets written, 0 dropped (queue full), 21 errors" in server.log


UNSHARE = shutil.which("unshare")


def _tmpfs_wrapper(directory: Path, size: str, mountpoint: Path) -> str:
    """A "python" that runs the server in a mount namespace of its own with a small tmpfs
    at ``mountpoint``."""
    script = directory / "python-in-tmpfs"
    script.write_text(
        "#!/bin/sh\n"
        f"exec {UNSHARE} --mount --propagation private -- /bin/sh -c "
        f"'mount -t tmpfs -o size={size} tmpfs {mountpoint} && exec \"$0\" \"$@\"' "
        f"{sys.executable} \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def _can_unshare() -> bool:
    if UNSHARE is None:
        return False
    probe = subprocess.run([UNSHARE, "--mount", "--", "/bin/sh", "-c",
                            "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


def test_a_disk_that_fills(rtpgate_server: Callable[..., ServerProcess],
                           tmp_path: Path) -> None:
    if not _can_unshare():
        pytest.skip("needs unshare --mount and mount (root, or a user namespace) for a "
                    "small tmpfs")
    spool = tmp_path / "spool"
    spool.mkdir()
    python = _tmpfs_wrapper(tmp_path, "256k", spool)
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0", python=python)
    call = make_call(server)
    assert call.ng("start recording")["result"] == "ok"
    sent = 3000  # ~600 KB of pcap for a 256 KB file system
    for i in range(sent):
        packet = rtp(i, bytes([i & 0xFF]) * 160, 9)
        assert call.send("a", packet) == packet
    wait_for(lambda: "No space left on device" in server.log, what="ENOSPC in the log")
    assert call.ng("stop recording")["result"] == "ok"
    # the server's own view of its tmpfs: the pcap ends with a whole record
    assert server.proc is not None
    inside = Path(f"/proc/{server.proc.pid}/root") / spool.relative_to("/")
    pcaps = wait_for(lambda: list((inside / "metadata").glob("*.txt")) and
                     list((inside / "pcaps").glob("*.pcap")), what="closed recording")
    captured = read_pcap(pcaps[0])
    assert 100 < len(captured) < sent
    # what was written is whole records, in the order sent (the packets of buffers that did
    # not fit are missing: counted as errors below)
    sequence = [int.from_bytes(c.data[2:4], "big") for c in captured]
    assert sequence == sorted(set(sequence))
    assert all(c.data == rtp(n, bytes([n & 0xFF]) * 160, 9)
               for c, n in zip(captured, sequence, strict=True))
    # the call still relays and answers
    assert call.send("b", rtp(0, b"\x01" * 160, 10))
    assert call.ng("query")["result"] == "ok"
    assert ng(server, "ping")["result"] == "pong"
    assert call.ng("delete")["result"] == "ok"
    assert server.stop() == 0
    written = len(captured)
    assert f"{written} packets written, 0 dropped (queue full), {sent - written} errors" \
        in server.log
