"""Logging as an operator sets it up: syslog (default, also daemonised), facility, plain or JSON
lines, a log file reopened on SIGHUP, the level changed at runtime through the CLI."""

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
from e2e_helpers import run_rtpgate
from rtpgate.testing import ServerProcess


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def syslog(tmp_path: Path) -> Iterator[tuple[socket.socket, Path]]:
    """A syslog socket of our own (what /dev/log is to a real syslog daemon)."""
    path = tmp_path / "log.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(30)
        yield sock, path


def syslog_until(sock: socket.socket, text: str) -> str:
    while True:
        message = sock.recv(65536).decode().rstrip("\0")
        if text in message:
            return message


@pytest.mark.parametrize(("facility", "pri"), [(None, 3 * 8 + 5), ("local3", 19 * 8 + 5)])
def test_daemon_logs_to_syslog_by_default(syslog: tuple[socket.socket, Path], tmp_path: Path,
                                          facility: str | None, pri: int) -> None:
    sock, path = syslog
    pidfile = tmp_path / "rtpgate.pid"
    args = [f"--syslog-socket={path}", "--listen-http=127.0.0.1:0", f"--pidfile={pidfile}"]
    if facility:
        args.append(f"--log-facility={facility}")
    result = run_rtpgate("--config-file=none", *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pid = int(pidfile.read_text())
    try:
        ready = syslog_until(sock, "rtpgate ready")
        assert ready == (f"<{pri}>rtpgate[{pid}]: NOTICE: [rtpgate.server] rtpgate ready, "
                         f"pid {pid}")
    finally:
        os.kill(pid, signal.SIGTERM)
    assert syslog_until(sock, "shutting down").startswith(f"<{pri}>rtpgate[{pid}]: ")


def test_json_lines(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--log-format=json")
    assert server.proc is not None
    wait_for(lambda: "rtpgate ready" in server.log)
    server.stop()
    records = [json.loads(line) for line in server.log.splitlines()]
    serving = server.serving_pids  # each worker logs its own ready line, with its pid
    ready = [r for r in records if r["message"].startswith("rtpgate ready")
             and r["logger"] == "rtpgate.server"]
    assert sorted(r["pid"] for r in ready) == sorted(serving)
    assert all(r["level"] == "NOTICE" and r["time"].endswith("+00:00") for r in ready)
    assert any(r["message"] == "shutting down" for r in records)


def test_json_to_syslog(syslog: tuple[socket.socket, Path], tmp_path: Path) -> None:
    sock, path = syslog
    proc = subprocess.Popen([sys.executable, "-m", "rtpgate", "-f", "--config-file=none",
                             "--listen-http=127.0.0.1:0", "--log-format=json",
                             f"--syslog-socket={path}"], cwd=tmp_path)
    try:
        message = syslog_until(sock, "rtpgate ready")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    prefix = f"<29>rtpgate[{proc.pid}]: "
    assert message.startswith(prefix)
    assert json.loads(message[len(prefix):])["level"] == "NOTICE"


def test_sighup_reopens_the_log_file(rtpgate_server: Callable[..., ServerProcess],
                                     tmp_path: Path) -> None:
    log = tmp_path / "rtpgate.log"
    server = rtpgate_server(f"--log-file={log}")
    wait_for(lambda: log.exists() and "rtpgate ready" in log.read_text())
    log.rename(tmp_path / "rtpgate.log.1")  # what logrotate does
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: log.exists() and "log file reopened (SIGHUP)" in log.read_text())
    assert server.stop() == 0
    assert "shutting down" in log.read_text()
    assert "rtpgate ready" in (tmp_path / "rtpgate.log.1").read_text()
    assert "shutting down" not in (tmp_path / "rtpgate.log.1").read_text()


def test_sighup_without_a_log_file_keeps_serving(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: no log file to reopen" in server.log)
    assert server.http("GET", "/ping")[0] == 200


def test_set_loglevel_at_runtime(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--listen-cli=127.0.0.1:0", "--log-level=5")

    def cli(line: str) -> str:
        with socket.create_connection(server.address("cli-tcp"), timeout=10) as sock:
            sock.sendall(line.encode() + b"\n")
            return b"".join(iter(lambda: sock.recv(65536), b"")).decode()

    def logged(command: str) -> bool:
        return any("Got CLI command" in line and command in line
                   for line in server.log.splitlines())

    cli("list numsessions")
    assert cli("set loglevel 6") == "Success setting loglevel to 6\n"
    cli("list totals")
    wait_for(lambda: logged("list totals"))
    assert not logged("list numsessions")  # at level 5 (notice), info was not logged
    assert cli("set loglevel 5") == "Success setting loglevel to 5\n"
    cli("list sessions all")
    server.stop()
    assert "list sessions" not in server.log


@pytest.mark.parametrize(("option", "error"), [
    ("--log-facility=lokal0", "unknown syslog facility 'lokal0'"),
    ("--log-format=xml", "unknown log format 'xml'"),
])
def test_bad_logging_option_is_refused(option: str, error: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "rtpgate", "-f", "--config-file=none",
                             option], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert option.split("=")[0] in result.stderr and error in result.stderr, result.stderr
