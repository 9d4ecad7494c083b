"""The TCP CLI port: one line in, the output, then the server closes; Debian's ``rtpengine-ctl``
and ``rtpgate ctl`` against it; hostile clients leave it serving everyone else."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_clients import http_cli, tcp_cli
from rtpgate.testing import ServerProcess, recv_until_closed

NUMSESSIONS = (b"Current sessions own: 0\nCurrent sessions foreign: 0\nCurrent sessions total: 0\n"
               b"Current transcoded media: 0\nCurrent sessions ipv4 only media: 0\n"
               b"Current sessions ipv6 only media: 0\nCurrent sessions ip mixed  media: 0\n")


def closed_without_reply(sock: socket.socket) -> bool:
    """The server closed (a reset too: it closed with our bytes still unread)."""
    try:
        return recv_until_closed(sock) == b""
    except ConnectionResetError:
        return True


def answers(server: ServerProcess) -> bool:
    return tcp_cli(server, b"list timeout\n") == b"TIMEOUT=60\n"


def test_one_line_then_the_server_closes(shared_server: ServerProcess) -> None:
    assert tcp_cli(shared_server, b"list numsessions\n") == NUMSESSIONS
    assert tcp_cli(shared_server, b"list numsessions\r\n") == NUMSESSIONS
    # only the first line is a command; the connection closes after its reply
    assert tcp_cli(shared_server, b"list timeout\nlist maxsessions\n") == b"TIMEOUT=60\n"
    assert tcp_cli(shared_server, b"list+timeout\n") == b"TIMEOUT=60\n"
    assert tcp_cli(shared_server, b"\n") == b"Incomplete command: \n"


def test_the_line_may_arrive_in_pieces(shared_server: ServerProcess) -> None:
    with socket.create_connection(shared_server.address("cli-tcp"), timeout=5) as sock:
        for piece in (b"list ", b"time", b"out\n"):
            sock.sendall(piece)
            time.sleep(0.05)
        assert recv_until_closed(sock) == b"TIMEOUT=60\n"


def test_same_text_on_every_transport(shared_server: ServerProcess) -> None:
    for command in ("list numsessions", "list loglevel", "help", "list help", "usage"):
        assert tcp_cli(shared_server, command.encode() + b"\n") == http_cli(shared_server,
                                                                          command)


# ---------------------------------------------------------------------- hostile clients

def test_a_megabyte_line_closes_that_connection_only(cli_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = cli_server()
    with socket.create_connection(server.address("cli-tcp"), timeout=5) as sock:
        # the server may close while we are still sending: that is the point
        with contextlib.suppress(OSError):
            sock.sendall(b"x" * (1 << 20) + b"\n")
        assert closed_without_reply(sock)
    assert answers(server) and server.alive


def test_a_line_without_newline_left_open_blocks_nobody(cli_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = cli_server()
    with socket.create_connection(server.address("cli-tcp"), timeout=5) as idle:
        idle.sendall(b"list totals")
        for _ in range(3):
            assert answers(server)
        idle.settimeout(0.3)
        with pytest.raises(TimeoutError):
            idle.recv(1)  # no line, no answer, and the connection stays as it is
        idle.sendall(b"\n")
        assert recv_until_closed(idle).startswith(b"\nStatistics over currently running")


def test_binary_garbage(cli_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = cli_server()
    garbage = bytes(range(256)) * 3
    for chunk in (garbage[:200] + b"\n", b"\x00\xff\xfe\n", b"list \xff\xfe\n",
                  b"\x80" * 1000 + b"\n"):
        reply = tcp_cli(server, chunk)
        assert reply.startswith(b"Unknown command: ") or reply == b"", reply[:80]
    assert tcp_cli(server, b"list sessions \xff\xfe\n") == b"\nCall ID not found (\xff\xfe).\n\n"
    with socket.create_connection(server.address("cli-tcp"), timeout=5) as sock:
        sock.sendall(bytes(b % 255 + 1 for b in os.urandom(5000)).replace(b"\n", b"x"))
        assert closed_without_reply(sock)  # 5000 bytes and no line: over rtpengine's 1024
    assert answers(server) and server.alive


@pytest.mark.slow
def test_a_thousand_idle_connections(cli_server) -> None:  # type: ignore[no-untyped-def]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        if hard < 2200:
            pytest.skip(f"open-files limit {hard} is below what 1,000 connections need")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2200, hard))  # inherited by the server
    server: ServerProcess = cli_server()
    idle = [socket.create_connection(server.address("cli-tcp"), timeout=10)
            for _ in range(1000)]
    try:
        for _ in range(5):
            assert answers(server)
        idle[0].sendall(b"list timeout\n")  # an old idle one is still served
        assert recv_until_closed(idle[0]) == b"TIMEOUT=60\n"
    finally:
        for sock in idle:
            sock.close()
    assert answers(server) and server.alive


# ---------------------------------------------------------------------- clients

def _rtpengine_ctl() -> str:
    found = shutil.which("rtpengine-ctl")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("rtpengine-ctl is not installed and apt-get is not available to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    "rtpengine-utils"], check=True, env=env, timeout=600)
    found = shutil.which("rtpengine-ctl")
    assert found, "apt-get installed rtpengine-utils but there is no rtpengine-ctl"
    return found


def test_debian_rtpengine_ctl_against_rtpgate(shared_server: ServerProcess) -> None:
    ctl = _rtpengine_ctl()
    host, port = shared_server.address("cli-tcp")

    def run(*words: str) -> bytes:
        done = subprocess.run([ctl, "-ip", host, "-port", str(port), *words],
                              capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("list", "numsessions") == NUMSESSIONS
    totals = run("list", "totals")
    assert totals.startswith(b"\nStatistics over currently running sessions:\n\n")
    assert b"\nTotal statistics (does not include current running sessions):\n" in totals
    assert run("terminate", "all") == b"All calls terminated by operator.\n"


def _ctl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "rtpgate", "ctl", *args], capture_output=True,
                          timeout=60, cwd=cwd)


def test_rtpgate_ctl(shared_server: ServerProcess, tmp_path: Path) -> None:
    host, port = shared_server.address("cli-tcp")
    done = _ctl("-ip", f"{host}:{port}", "list", "timeout")
    assert (done.returncode, done.stdout) == (0, b"TIMEOUT=60\n")
    done = _ctl("--ip", host, "-port", str(port), "list", "numsessions")
    assert (done.returncode, done.stdout) == (0, NUMSESSIONS)
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(f"[rtpengine]\nlisten-cli = {host}:{port}\n")
    done = _ctl("-config-file", str(conf))  # no words: the server's usage
    assert done.returncode == 0
    assert done.stdout.startswith(b"    Supported commands are:\n\n")


def test_rtpgate_ctl_reports_a_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = _ctl("-ip", "127.0.0.1", "-port", str(port), "-config-file", "/nonexistent", "help")
    assert done.returncode == 1
    assert done.stderr.startswith(b"Cannot connect to the rtpengine ")
