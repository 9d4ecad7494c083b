"""The process: signals, pid file, daemonizing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_exit_cleanly(rtpgate_server: Callable[..., ServerProcess],
                                   sig: signal.Signals, tmp_path: Path) -> None:
    pidfile = tmp_path / "rtpgate.pid"
    server = rtpgate_server(f"--pidfile={pidfile}")
    assert server.proc is not None
    assert pidfile.read_text() == f"{server.proc.pid}\n"
    server.proc.send_signal(sig)
    assert server.proc.wait(10) == 0
    assert not pidfile.exists()
    assert "shutting down" in server.log
    with pytest.raises(OSError):
        server.connect(timeout=1)


def test_connections_open_at_shutdown_do_not_delay_it(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server()
    idle = [server.connect() for _ in range(10)]
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 3
    for sock in idle:
        sock.close()


def test_daemonizes_without_foreground(tmp_path: Path) -> None:
    pidfile, ready = tmp_path / "rtpgate.pid", tmp_path / "ready.json"
    result = subprocess.run([sys.executable, "-m", "rtpgate", "-E", "--config-file=none",
                             "--listen-http=127.0.0.1:0", f"--pidfile={pidfile}",
                             f"--ready-file={ready}"], capture_output=True, timeout=30,
                            cwd=tmp_path)
    assert result.returncode == 0  # the parent returns once the child is detached
    wait_for(ready.exists)
    info = json.loads(ready.read_text())
    pid = info["pid"]
    try:
        wait_for(pidfile.exists)
        assert pidfile.read_text() == f"{pid}\n"
        assert os.getsid(pid) != os.getsid(0)  # a session of its own, detached from ours
        port = info["listeners"][0]["port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as resp:
            assert resp.read() == b"pong\n"
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid))
    assert not pidfile.exists()
