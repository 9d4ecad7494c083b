"""Graceful stop (``--shutdown-deadline``): SIGTERM refuses new calls and waits for running ones
(to their end, to the deadline, to a second SIGTERM or to the CLI's ``terminate``)."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\n")
LISTEN = ("--listen-ng=127.0.0.1:0", "--listen-cli=127.0.0.1:0")


def ng(server: ServerProcess, request: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        cookie = b"%d" % time.monotonic_ns()
        sock.sendto(cookie + b" " + codec.encode(request, "bencode"), server.address("ng-udp"))
        reply = sock.recv(65535)
    assert reply.startswith(cookie + b" ")
    return codec.decode(reply.partition(b" ")[2])[0]


def offer(server: ServerProcess, call_id: str, **extra: Any) -> dict[str, Any]:
    return ng(server, {"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": SDP,
                       **extra})


def cli(server: ServerProcess, line: str) -> str:
    with socket.create_connection(server.address("cli-tcp"), timeout=10) as sock:
        sock.sendall(line.encode() + b"\n")
        return b"".join(iter(lambda: sock.recv(65536), b"")).decode()


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sigterm_and_wait_for_drain(server: ServerProcess, calls: int) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: f"draining: {calls} call(s) running" in server.log)


def test_running_call_continues_new_calls_refused_stop_when_it_ends(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*LISTEN, "--shutdown-deadline=120")
    assert offer(server, "running")["result"] == "ok"
    sigterm_and_wait_for_drain(server, 1)
    assert server.alive
    refused = offer(server, "new", supports=["load limit"])
    assert (refused["result"], refused["message"]) == ("load limit",
                                                       "Shutting down, no new calls")
    assert offer(server, "new2")["result"] == "error"
    # the running call is still served: a re-offer, then its end
    assert offer(server, "running")["result"] == "ok"
    assert ng(server, {"command": "delete", "call-id": "running"})["result"] == "ok"
    assert server.proc is not None and server.proc.wait(30) == 0
    assert "drained: no call is running" in server.log


def test_deadline_ends_the_wait(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*LISTEN, "--shutdown-deadline=2")
    assert offer(server, "stays")["result"] == "ok"
    started = time.monotonic()
    sigterm_and_wait_for_drain(server, 1)
    assert server.proc is not None and server.proc.wait(30) == 0
    assert time.monotonic() - started >= 1.5
    assert "shutdown deadline (2.0 s) reached with 1 call(s) still running" in server.log


def test_second_sigterm_stops_at_once(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*LISTEN, "--shutdown-deadline=300")
    assert offer(server, "stays")["result"] == "ok"
    sigterm_and_wait_for_drain(server, 1)
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert "second stop signal: stopping with 1 call(s) running" in server.log


@pytest.mark.parametrize(("command", "reply"), [
    ("terminate all", "All calls terminated by operator.\n"),
    ("terminate own", "All own calls terminated by operator.\n"),
    ("terminate one", "\nCall Id (one) successfully terminated by operator.\n\n"),
])
def test_cli_terminate_ends_the_drain(rtpgate_server: Callable[..., ServerProcess],
                                      command: str, reply: str) -> None:
    """rtpengine's terminate commands (same replies) end the calls a drain waits for."""
    server = rtpgate_server(*LISTEN, "--shutdown-deadline=300")
    assert offer(server, "one")["result"] == "ok"
    sigterm_and_wait_for_drain(server, 1)
    assert cli(server, "terminate nosuch") == "\nCall Id not found (nosuch).\n\n"
    assert server.alive
    assert cli(server, command) == reply
    assert server.proc is not None and server.proc.wait(30) == 0
    assert "drained: no call is running" in server.log


def test_without_a_deadline_sigterm_stops_at_once(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """rtpengine's behaviour, the default."""
    server = rtpgate_server(*LISTEN)
    assert offer(server, "dropped")["result"] == "ok"
    assert server.proc is not None
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    assert time.monotonic() - started < 10
    assert "draining" not in server.log
