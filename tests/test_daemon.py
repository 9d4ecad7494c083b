"""Starting as a daemon the way init systems do: the parent's exit status is the truth."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
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


def daemon(tmp_path: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    """``rtpgate`` without ``--foreground``: returns when the parent exits."""
    return subprocess.run([sys.executable, "-m", "rtpgate", "--config-file=none", *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_daemon_that_cannot_bind_exits_non_zero_with_the_error(tmp_path: Path,
                                                                 taken_port: int) -> None:
    pidfile = tmp_path / "rtpgate.pid"
    result = daemon(tmp_path, "-E", f"--listen-http=127.0.0.1:{taken_port}",
                    f"--pidfile={pidfile}")
    assert result.returncode == 1
    assert (f"rtpgate: cannot start: --listen-http: cannot bind 127.0.0.1:{taken_port}: "
            "Address already in use") in result.stderr
    assert not pidfile.exists()


def test_daemon_parent_returns_once_serving(tmp_path: Path) -> None:
    """Exit 0 only after the child serves: the pid file and the listener are there already."""
    pidfile, ready = tmp_path / "rtpgate.pid", tmp_path / "ready.json"
    result = daemon(tmp_path, "-E", "--listen-http=127.0.0.1:0", f"--pidfile={pidfile}",
                    f"--ready-file={ready}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    pid = int(pidfile.read_text())  # no waiting: written before the parent returned
    try:
        info = json.loads(ready.read_text())
        assert info["pid"] == pid
        port = info["listeners"][0]["port"]
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid))
    assert not pidfile.exists()


def test_daemon_without_syslog_warns_before_detaching(tmp_path: Path) -> None:
    pidfile = tmp_path / "rtpgate.pid"
    result = daemon(tmp_path, f"--syslog-socket={tmp_path / 'no-such-socket'}",
                    "--listen-http=127.0.0.1:0", f"--pidfile={pidfile}")
    assert result.returncode == 0, result.stderr
    pid = int(pidfile.read_text())
    os.kill(pid, signal.SIGTERM)
    assert (f"no syslog socket at {tmp_path / 'no-such-socket'}: logging to stderr, which is "
            "closed once detached (give --log-file or --syslog-socket)") in result.stderr
    wait_for(lambda: not pid_alive(pid))


def test_daemon_reports_a_child_that_dies_silently(tmp_path: Path) -> None:
    """A startup hook that kills the process: the parent still exits non-zero."""
    site = tmp_path / "plugin"
    site.mkdir()
    (site / "suicide_probe.py").write_text(
        "import os\nfrom rtpgate import hookimpl\n\n"
        "@hookimpl\ndef rtpgate_startup(runtime):\n    os._exit(3)\n")
    result = daemon(tmp_path, "-E", "--listen-http=127.0.0.1:0", "--plugin=suicide_probe",
                    env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    assert "rtpgate: cannot start: the daemon exited during start-up" in result.stderr


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(30)
        yield sock, path


def test_sd_notify_ready_status_and_stopping(
        rtpgate_server: Callable[..., ServerProcess],
        notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    server = rtpgate_server(env={"NOTIFY_SOCKET": path})
    ready = sock.recv(4096).decode().splitlines()
    assert "READY=1" in ready
    assert f"MAINPID={server.proc.pid}" in ready  # type: ignore[union-attr]
    assert any(line.startswith("STATUS=serving") for line in ready)
    assert server.stop() == 0
    stopping = sock.recv(4096).decode().splitlines()
    assert "STOPPING=1" in stopping
    assert any(line.startswith("STATUS=") for line in stopping)
