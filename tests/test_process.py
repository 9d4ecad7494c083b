"""The process: signals, pid file, daemonizing."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.testing import Daemon, ServerProcess, pid_alive, wait_for


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
    # waiting for the idle connections would last until the test closes them (stop() would
    # then kill the server and return non-zero); the bound leaves room for a loaded machine,
    # where stopping two workers alone takes seconds
    assert time.monotonic() - started < 8
    for sock in idle:
        sock.close()


def test_daemonizes_without_foreground(rtpgate_daemon: Daemon) -> None:
    pidfile, ready = rtpgate_daemon.pidfile, rtpgate_daemon.ready
    result = rtpgate_daemon.start("-E", "--listen-http=127.0.0.1:0")
    assert result.returncode == 0  # the parent returns once the child is detached
    wait_for(ready.exists)
    info = json.loads(ready.read_text())
    pid = info["pid"]
    wait_for(pidfile.exists)
    assert pidfile.read_text() == f"{pid}\n"
    assert os.getsid(pid) != os.getsid(0)  # a session of its own, detached from ours
    port = info["listeners"][0]["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as resp:
        assert resp.read() == b"pong\n"
    rtpgate_daemon.stop()
    assert not pid_alive(pid)
    assert not pidfile.exists()
