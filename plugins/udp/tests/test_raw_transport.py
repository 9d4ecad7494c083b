"""The raw-socket transport against a real server: UDP and TCP listeners of the probe protocols."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

import pytest
from rtpgate.api import DatagramListener, StreamListener
from rtpgate.testing import ServerError, ServerProcess, recv_until_closed

from rtpgate_udp.transport import kind_of

Start = Callable[..., ServerProcess]


def udp_exchange(address: tuple[str, int], body: bytes, source: str | None = None,
                 timeout: float = 2.0) -> tuple[bytes, tuple[str, int]] | None:
    """Send one datagram from a fresh socket; the reply and where it came from, or None."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((source or ("::1" if family == socket.AF_INET6 else "127.0.0.1"), 0))
        sock.settimeout(timeout)
        sock.sendto(body, address)
        try:
            data, sender = sock.recvfrom(70000)
        except TimeoutError:
            return None
        return data, (sender[0], sender[1])


def read_lines(sock: socket.socket, count: int, timeout: float = 5.0) -> list[bytes]:
    sock.settimeout(timeout)
    data = b""
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n")[:-1]


def test_listener_kinds_are_named_after_the_option() -> None:
    assert kind_of(DatagramListener("listen_ng")) == "ng-udp"
    assert kind_of(StreamListener("listen_tcp_ng", lambda b: ([], 0))) == "ng-tcp"
    assert kind_of(StreamListener("listen_cli", lambda b: ([], 0))) == "cli-tcp"


# ---------------------------------------------------------------------- UDP


def test_udp_reply_goes_to_the_sender(probe_server: Start) -> None:
    server = probe_server("--listen-probe=127.0.0.1:0", "--listen-probe=[::1]:0")
    v4, v6 = server.addresses("probe-udp")
    assert udp_exchange(v4, b"hello") == (b"udp 127.0.0.1 %d 127.0.0.1|hello" % v4[1], v4)
    assert udp_exchange(v6, b"hello") == (b"udp ::1 %d ::1|hello" % v6[1], v6)


def test_bare_port_binds_both_wildcards_on_one_port(probe_server: Start) -> None:
    server = probe_server("--listen-probe=0")
    bound = server.addresses("probe-udp")
    assert sorted(host for host, _ in bound) == ["0.0.0.0", "::"]
    assert len({port for _, port in bound}) == 1


@pytest.mark.parametrize("destination", ["127.0.0.2", "127.0.0.3", "127.1.2.3", "::1"])
def test_wildcard_reply_comes_from_the_address_the_request_was_sent_to(
        probe_server: Start, destination: str) -> None:
    server = probe_server("--listen-probe=0")
    port = server.port("probe-udp")
    source = "::1" if ":" in destination else "127.0.0.9"
    result = udp_exchange((destination, port), b"x", source=source)
    assert result == (f"udp {destination} {port} {source}|x".encode(), (destination, port))


def test_wildcard_reply_reaches_a_connected_client(probe_server: Start) -> None:
    """A connected UDP socket (what most SIP proxies use) drops datagrams from any other source
    address, so the reply must leave from the very address the client sent to."""
    server = probe_server("--listen-probe=0.0.0.0:0")
    port = server.port("probe-udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.5", port))
        sock.send(b"connected")
        assert sock.recv(1000).endswith(b"|connected")


def test_largest_datagram_is_accepted(probe_server: Start) -> None:
    server = probe_server("--listen-probe=127.0.0.1:0")
    body = b"size:" + b"x" * (65507 - 5)  # the largest UDP payload over IPv4
    result = udp_exchange(server.address("probe-udp"), body)
    assert result is not None and result[0].endswith(b"|65507")


def test_datagram_above_the_listener_limit_is_dropped(probe_server: Start) -> None:
    server = probe_server("--listen-probe-small=127.0.0.1:0")
    address = server.address("probe-small-udp")
    assert udp_exchange(address, b"x" * 101, timeout=0.5) is None
    assert udp_exchange(address, b"x" * 100) == (b"100", address)
    assert "larger than 100 bytes dropped" in server.log


@pytest.mark.parametrize("body", [b"bad", b"boom", b"none"])
def test_no_reply_on_rejection_failure_or_none_and_the_listener_carries_on(
        probe_server: Start, body: bytes) -> None:
    server = probe_server("--listen-probe=127.0.0.1:0")
    address = server.address("probe-udp")
    assert udp_exchange(address, body, timeout=0.5) is None
    assert udp_exchange(address, b"after") is not None


def test_udp_messages_are_handled_concurrently(probe_server: Start) -> None:
    server = probe_server("--listen-probe=127.0.0.1:0")
    address = server.address("probe-udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(b"sleep:800:slow", address)
        sock.sendto(b"fast", address)
        started = time.monotonic()
        first = sock.recv(1000)
        assert first.endswith(b"|fast") and time.monotonic() - started < 0.5
        assert sock.recv(1000).endswith(b"|sleep:800:slow")


def test_listener_option_no_plugin_declared_is_reported(probe_server: Start) -> None:
    server = probe_server("--listen-probe=127.0.0.1:0")
    assert ("protocol probe-orphan wants a listener on --listen-nobody-declared, but no plugin "
            "declares that option; not served") in server.log


def test_address_in_use_stops_startup_with_the_option_named(probe_server: Start) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(ServerError, match="exited with 1") as failed:
            probe_server(f"--listen-probe=127.0.0.1:{port}")
    assert (f"--listen-probe: cannot bind 127.0.0.1:{port}: Address already in use"
            in str(failed.value))


# ---------------------------------------------------------------------- TCP


def test_tcp_several_messages_in_one_write_and_one_split_across_writes(
        probe_server: Start) -> None:
    server = probe_server("--listen-tcp-probe=127.0.0.1:0")
    port = server.port("probe-tcp")
    with server.connect("probe-tcp") as sock:
        sock.sendall(b"one\ntwo\nthr")
        time.sleep(0.1)
        sock.sendall(b"ee\n")
        assert read_lines(sock, 3) == [b"tcp 127.0.0.1 %d 127.0.0.1|%s" % (port, word)
                                       for word in (b"one", b"two", b"three")]


def test_tcp_replies_keep_the_order_of_the_requests(probe_server: Start) -> None:
    server = probe_server("--listen-tcp-probe=127.0.0.1:0")
    with server.connect("probe-tcp") as sock:
        sock.sendall(b"sleep:300:first\nsecond\n")
        replies = read_lines(sock, 2)
    assert [r.split(b"|")[1] for r in replies] == [b"sleep:300:first", b"second"]


def test_tcp_incomplete_message_beyond_the_buffer_limit_closes_the_connection(
        probe_server: Start) -> None:
    server = probe_server("--listen-tcp-probe=127.0.0.1:0")
    with server.connect("probe-tcp") as sock:
        sock.sendall(b"ok\n" + b"x" * 4096)
        assert read_lines(sock, 1)[0].endswith(b"|ok")
        sock.sendall(b"y")
        assert recv_until_closed(sock) == b""
    with server.connect("probe-tcp") as sock:  # the listener carries on
        sock.sendall(b"x" * 4000 + b"\n")
        assert read_lines(sock, 1)[0].endswith(b"|" + b"x" * 4000)


def test_tcp_no_reply_on_rejection_or_failure_and_the_connection_stays(
        probe_server: Start) -> None:
    server = probe_server("--listen-tcp-probe=127.0.0.1:0")
    with server.connect("probe-tcp") as sock:
        sock.sendall(b"bad\nboom\nnone\nafter\n")
        assert [r.split(b"|")[1] for r in read_lines(sock, 1)] == [b"after"]


def test_tcp_half_closed_client_still_gets_its_replies(probe_server: Start) -> None:
    server = probe_server("--listen-tcp-probe=127.0.0.1:0")
    with server.connect("probe-tcp") as sock:
        sock.sendall(b"sleep:200:a\nb\n")
        sock.shutdown(socket.SHUT_WR)
        data = recv_until_closed(sock)
    assert [r.split(b"|")[1] for r in data.split(b"\n")[:-1]] == [b"sleep:200:a", b"b"]


def test_tcp_close_after_reply(probe_server: Start) -> None:
    server = probe_server("--listen-probe-once=127.0.0.1:0")
    with server.connect("probe-once-tcp") as sock:
        sock.sendall(b"first\nsecond\n")
        assert recv_until_closed(sock) == b"once:first\n"
    with server.connect("probe-once-tcp") as sock:
        sock.sendall(b"x" * 17)
        assert recv_until_closed(sock) == b""


def test_tcp_client_that_does_not_read_is_throttled_not_buffered(probe_server: Start) -> None:
    """96 MB of requests written without reading a reply: the server stops reading once its
    replies back up (the client's writes block long before 96 MB; kernel buffers hold at most
    about 40 MB here), then answers every request, in order, once the client reads."""
    server = probe_server("--listen-tcp-probe=127.0.0.1:0")
    count = 96 * 1024
    payload = b"".join(b"%07d%s\n" % (i, b"p" * 1016) for i in range(count))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect(server.address("probe-tcp"))
        sock.setblocking(False)
        sent = 0
        blocked_since = None
        while sent < len(payload):
            try:
                sent += sock.send(payload[sent:sent + 65536])
                blocked_since = None
            except BlockingIOError:
                blocked_since = blocked_since or time.monotonic()
                if time.monotonic() - blocked_since > 1.0:
                    break
                time.sleep(0.01)
        assert sent < 48 * 1024 * 1024, "the server kept reading without being read from"
        received = bytearray()
        lines = 0
        deadline = time.monotonic() + 60
        while lines < count and time.monotonic() < deadline:
            want_write = [sock] if sent < len(payload) else []
            readable, writable, _ = select.select([sock], want_write, [], 1.0)
            if writable:
                sent += sock.send(payload[sent:sent + 65536])
            if readable:
                chunk = sock.recv(1 << 20)
                assert chunk, "connection closed"
                received += chunk
                lines += chunk.count(b"\n")
    numbers = [int(line.split(b"|")[1][:7]) for line in bytes(received).split(b"\n")[:-1]]
    assert numbers == list(range(count))


def test_stop_with_connections_open_and_messages_in_flight(probe_server: Start) -> None:
    server = probe_server("--listen-tcp-probe=127.0.0.1:0", "--listen-probe=127.0.0.1:0")
    with server.connect("probe-tcp") as sock, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        sock.sendall(b"sleep:5000:x\n")
        udp.sendto(b"sleep:5000:y", server.address("probe-udp"))
        time.sleep(0.2)
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 5
