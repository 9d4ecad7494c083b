"""Timeouts, size limits and hostile input: each affects only its own connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

import pytest
from rtpgate.testing import ServerProcess, expect_close, read_response

PING = b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n"


@contextmanager
def bystander(server: ServerProcess) -> Iterator[Callable[[], None]]:
    """A keep-alive client connected before the trouble starts; calling it checks that it is
    still served on its open connection."""
    with server.connect() as sock, sock.makefile("rb") as reader:
        def check() -> None:
            sock.sendall(PING)
            assert read_response(reader).status == 200
        check()
        yield check


def closed_within(sock: socket.socket, reader: BinaryIO, seconds: float) -> float:
    """Seconds until the peer closes (anything it sends before is discarded)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while reader.read1(65536):
            pass
    except TimeoutError:
        pytest.fail(f"connection still open after {seconds}s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(
        probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--http-idle-timeout=2")
    with server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(PING)
        assert read_response(reader).status == 200
        time.sleep(1)  # below the timeout: still open and served
        sock.sendall(PING)
        assert read_response(reader).status == 200
        waited = closed_within(sock, reader, 6)
    assert 1.5 < waited < 4


def test_body_over_limit_is_413_and_closed_while_others_are_served(
        probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--http-max-body=1000")
    with bystander(server) as still_served, server.connect() as sock, \
            sock.makefile("rb") as reader:
        sock.sendall(b"POST /probe/typed HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-probe"
                     b"\r\nContent-Length: 5000\r\n\r\n")
        resp = read_response(reader)
        assert resp.status == 413
        assert resp.header("Content-Length") == str(len(resp.body))
        assert resp.header("Access-Control-Allow-Origin") == "*"
        closed_within(sock, reader, 3)
        still_served()


def test_body_at_limit_is_accepted(probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--http-max-body=1000")
    body = b"x" * 1000
    status, _, reply = server.http("POST", "/probe/typed", body,
                                   {"Content-Type": "application/x-probe"})
    assert status == 200 and reply.endswith(body)


def test_chunked_body_over_limit_is_closed(probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--http-max-body=1000")
    with bystander(server) as still_served, server.connect() as sock, \
            sock.makefile("rb") as reader:
        chunk = b"x" * 800
        sock.sendall(b"POST /probe/typed HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-probe"
                     b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2 + b"0\r\n\r\n")
        closed_within(sock, reader, 3)
        still_served()


@pytest.mark.parametrize("garbage", [
    b"HELLO\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(200)) + b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /probe/exact HTTP/9.9\r\n\r\n",
    b"GET /probe/exact HTTP/1.1\r\nno colon here\r\n\r\n",
    b"POST /probe/typed HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
])
def test_garbage_gets_an_error_or_a_close(shared_server: ServerProcess, garbage: bytes) -> None:
    with bystander(shared_server) as still_served, shared_server.connect() as sock:
        sock.sendall(garbage)
        answer = expect_close(sock, timeout=8)
        assert answer == b"" or answer.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), answer
        still_served()


def test_header_flood_is_refused(shared_server: ServerProcess) -> None:
    with bystander(shared_server) as still_served, shared_server.connect() as sock:
        sock.sendall(b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n")
        try:
            for i in range(4000):  # about 160 KB of headers, above Tornado's 64 KiB limit
                sock.sendall(b"X-Flood-%05d: %s\r\n" % (i, b"y" * 24))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed while we were still sending: that is the point
        answer = expect_close(sock, timeout=8)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100]
        still_served()


def test_half_sent_request_left_idle_is_closed(
        probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--http-idle-timeout=1")
    with server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n")  # no blank line
        with bystander(server) as still_served:
            time.sleep(0.5)
            still_served()
            assert closed_within(sock, reader, 5) < 4
            still_served()


def test_many_idle_connections_do_not_block_others(shared_server: ServerProcess) -> None:
    idle = [shared_server.connect() for _ in range(200)]
    try:
        for sock in idle[::2]:
            sock.sendall(b"GET /probe/ex")
        status, _, _ = shared_server.http("GET", "/probe/exact")
        assert status == 200
    finally:
        for sock in idle:
            sock.close()


def test_slow_header_trickle_is_cut_at_the_head_deadline(
        probe_server: Callable[..., ServerProcess]) -> None:
    """A client sending one header byte every 0.3 s never idles out (2 s idle timeout), but
    its request head must be complete within --http-head-timeout (3 s): 408 and a close.  A
    keep-alive client's later requests get the whole deadline again."""
    server = probe_server("--http-idle-timeout=2", "--http-head-timeout=3")
    with server.connect() as sock:
        sock.sendall(PING)  # a whole request first: the deadline is per request head
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        sock.sendall(b"GET /probe/exact HTTP/1.1\r\n")
        answer = b""
        try:
            for byte in b"X-Slow: " + b"y" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.3)
                if time.monotonic() - started > 8:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = expect_close(sock, timeout=5)
        waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
        assert 2.5 < waited < 6, waited
    assert server.http("GET", "/probe/exact")[0] == 200
