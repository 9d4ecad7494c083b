"""Starting as a daemon the way init systems do: the parent's exit status is the truth."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rtpgate.testing import Daemon, ServerProcess, pid_alive


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_daemon_that_cannot_bind_exits_non_zero_with_the_error(rtpgate_daemon: Daemon,
                                                                 taken_port: int) -> None:
    result = rtpgate_daemon.start("-E", f"--listen-http=127.0.0.1:{taken_port}")
    assert result.returncode == 1
    assert (f"rtpgate: cannot start: --listen-http: cannot bind 127.0.0.1:{taken_port}: "
            "Address already in use") in result.stderr
    assert not rtpgate_daemon.pidfile.exists()


def test_daemon_parent_returns_once_serving(rtpgate_daemon: Daemon) -> None:
    """Exit 0 only after the child serves: the pid file and the listener are there already."""
    result = rtpgate_daemon.start("-E", "--listen-http=127.0.0.1:0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    pid = rtpgate_daemon.pid  # no waiting: written before the parent returned
    info = json.loads(rtpgate_daemon.ready.read_text())
    assert info["pid"] == pid
    port = info["listeners"][0]["port"]
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    rtpgate_daemon.stop()
    assert not pid_alive(pid)
    assert not rtpgate_daemon.pidfile.exists()  # removed by the daemon itself on SIGTERM


def test_daemon_without_syslog_warns_before_detaching(rtpgate_daemon: Daemon,
                                                      tmp_path: Path) -> None:
    result = rtpgate_daemon.start(f"--syslog-socket={tmp_path / 'no-such-socket'}",
                                  "--listen-http=127.0.0.1:0")
    assert result.returncode == 0, result.stderr
    assert (f"no syslog socket at {tmp_path / 'no-such-socket'}: logging to stderr, which is "
            "closed once detached (give --log-file or --syslog-socket)") in result.stderr
    pid = rtpgate_daemon.pid
    rtpgate_daemon.stop()
    assert not pid_alive(pid)


def test_daemon_reports_a_child_that_dies_silently(rtpgate_daemon: Daemon,
                                                    tmp_path: Path) -> None:
    """A startup hook that kills the process: the parent still exits non-zero."""
    site = tmp_path / "plugin"
    site.mkdir()
    (site / "suicide_probe.py").write_text(
        "import os\nfrom rtpgate import hookimpl\n\n"
        "@hookimpl\ndef rtpgate_startup(runtime):\n    os._exit(3)\n")
    result = rtpgate_daemon.start("-E", "--listen-http=127.0.0.1:0", "--plugin=suicide_probe",
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


def test_a_failing_test_leaves_no_daemon_running(tmp_path: Path) -> None:
    """The fixture stops the daemons a test started even when the test fails."""
    pid_note = tmp_path / "pid"
    (tmp_path / "test_leaves.py").write_text(
        "def test_fails(rtpgate_daemon):\n"
        "    assert rtpgate_daemon.start('-E', '--listen-http=127.0.0.1:0').returncode == 0\n"
        f"    open({str(pid_note)!r}, 'w').write(str(rtpgate_daemon.pid))\n"
        "    raise AssertionError('deliberate')\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path / "test_leaves.py")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and "deliberate" in done.stdout, done.stdout + done.stderr
    pid = int(pid_note.read_text())
    assert not pid_alive(pid)
