"""The WebSocket transport against a real server, with the ``websockets`` client library."""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess, read_response, recv_until_closed, self_signed_cert
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect


def ws(server: ServerProcess, *subprotocols: str, path: str = "/",
       max_size: int | None = 2**24) -> ClientConnection:
    return connect(server.ws_url(path), subprotocols=list(subprotocols) or None,  # type: ignore[arg-type]
                   open_timeout=5, close_timeout=5, max_size=max_size)


def test_first_supported_subprotocol_of_the_list_is_chosen(shared_server: ServerProcess) -> None:
    with ws(shared_server, "foo", "probe.second", "probe.echo") as conn:
        assert conn.subprotocol == "probe.second"
        conn.send("hi")
        assert conn.recv(timeout=5) == b"second:ws:hi"
    with ws(shared_server, "probe.echo", "probe.second") as conn:
        assert conn.subprotocol == "probe.echo"


def test_handshake_reply_names_the_chosen_subprotocol(shared_server: ServerProcess) -> None:
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
                     b"\r\nSec-WebSocket-Protocol: foo, probe.echo\r\n\r\n")
        resp = read_response(reader, head_only=True)
    assert resp.status == 101
    assert resp.header("Sec-WebSocket-Protocol") == "probe.echo"
    assert resp.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert resp.header("Server") is None and resp.header("Date") is None  # as rtpengine


@pytest.mark.parametrize("offered", [(), ("bogus.example",), ("foo", "bar"), ("http-only",)])
def test_missing_or_unknown_subprotocol_is_refused(shared_server: ServerProcess,
                                                   offered: tuple[str, ...]) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ws(shared_server, *offered)
    assert refused.value.response.status_code == 400
    assert shared_server.http("GET", "/")[0] == 404  # still serving


@pytest.mark.parametrize("message", ["text message", b"binary\x00message", "ü", b"\xff\xfe"])
def test_text_and_binary_messages_get_binary_replies(shared_server: ServerProcess,
                                                     message: str | bytes) -> None:
    expected = message.encode() if isinstance(message, str) else message
    with ws(shared_server, "probe.echo") as conn:
        conn.send(message)
        reply = conn.recv(timeout=5)
    assert isinstance(reply, bytes)  # a binary frame, whatever the request frame was
    assert reply == expected


def test_large_message(shared_server: ServerProcess) -> None:
    payload = os.urandom(70_000)
    with ws(shared_server, "probe.echo") as conn:
        conn.send(payload)
        assert conn.recv(timeout=10) == payload


@pytest.mark.parametrize("fragments", [[b"frag", b"men", b"ted"], ["te", "xt"],
                                       [os.urandom(30_000) for _ in range(4)]])
def test_fragmented_message_is_reassembled(shared_server: ServerProcess,
                                           fragments: list[bytes] | list[str]) -> None:
    whole = b"".join(f.encode() if isinstance(f, str) else f for f in fragments)
    with ws(shared_server, "probe.echo") as conn:
        conn.send(iter(fragments))
        assert conn.recv(timeout=10) == whole


def test_empty_message_gets_no_reply(shared_server: ServerProcess) -> None:
    with ws(shared_server, "probe.echo") as conn:
        conn.send(b"")
        with pytest.raises(TimeoutError):
            conn.recv(timeout=0.5)
        conn.send(b"after")
        assert conn.recv(timeout=5) == b"after"


def test_too_large_message_closes_only_that_connection(
        probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--ws-max-message-size=1000")
    with ws(server, "probe.echo") as other, ws(server, "probe.echo") as conn:
        conn.send(b"x" * 1000)
        assert conn.recv(timeout=5) == b"x" * 1000
        conn.send(b"x" * 1001)
        with pytest.raises(ConnectionClosedError) as closed:
            conn.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        other.send(b"still here")
        assert other.recv(timeout=5) == b"still here"


def test_too_large_fragmented_message_closes(probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--ws-max-message-size=1000")
    with ws(server, "probe.echo") as conn:
        # the server may close before the client has written the last fragment: the close
        # then surfaces from send() rather than from recv()
        with pytest.raises(ConnectionClosedError) as closed:
            conn.send(iter([b"x" * 600, b"x" * 600]))
            conn.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_ping_gets_pong(shared_server: ServerProcess) -> None:
    with ws(shared_server, "probe.echo") as conn:
        assert conn.ping(b"are you there").wait(5)
        conn.send(b"after ping")
        assert conn.recv(timeout=5) == b"after ping"


def test_close_handshake(shared_server: ServerProcess) -> None:
    with ws(shared_server, "probe.echo") as conn:
        conn.close(1000, "bye")
        assert conn.protocol.close_rcvd is not None
        assert conn.protocol.close_rcvd.code == 1000
        assert conn.protocol.close_rcvd.reason == "bye"  # the whole payload echoed, as rtpengine


@pytest.mark.parametrize("path", ["/", "/ws", "/ng", "/any/path?x=1", "/ping"])
def test_any_path_upgrades(shared_server: ServerProcess, path: str) -> None:
    with ws(shared_server, "probe.echo", path=path) as conn:
        conn.send(b"p")
        assert conn.recv(timeout=5) == b"p"


def test_replies_keep_message_order(shared_server: ServerProcess) -> None:
    """Earlier messages sleep longer, so concurrent handling would reorder the replies."""
    messages = [b"sleep:%d:%d" % ((20 - i) * 10, i) for i in range(20)]
    with ws(shared_server, "probe.echo") as conn:
        for message in messages:
            conn.send(message)
        assert [conn.recv(timeout=10) for _ in messages] == messages


def test_pipelined_in_one_write(shared_server: ServerProcess) -> None:
    """Twenty messages in one TCP write, from a raw socket."""
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
                     b"\r\nSec-WebSocket-Protocol: probe.echo\r\n\r\n")
        assert read_response(reader, head_only=True).status == 101
        mask = b"\x01\x02\x03\x04"
        frames = b""
        for i in range(20):
            body = b"m%02d" % i
            masked = bytes(b ^ mask[j % 4] for j, b in enumerate(body))
            frames += bytes([0x81, 0x80 | len(body)]) + mask + masked
        sock.sendall(frames)
        replies = [reader.read(5) for _ in range(20)]
    assert replies == [bytes([0x82, 3]) + b"m%02d" % i for i in range(20)]


def test_rejected_gets_no_reply_and_connection_stays(shared_server: ServerProcess) -> None:
    with ws(shared_server, "probe.echo") as conn:
        for bad in (b"bad", b"boom"):
            conn.send(bad)
            with pytest.raises(TimeoutError):
                conn.recv(timeout=0.5)
        conn.send(b"good")
        assert conn.recv(timeout=5) == b"good"
    assert "probe failure" in shared_server.log


def test_http_and_ws_share_the_listener(shared_server: ServerProcess) -> None:
    with ws(shared_server, "probe.echo") as conn:
        assert shared_server.http("GET", "/nowhere")[2] == b"not found\n"
        conn.send(b"x")
        assert conn.recv(timeout=5) == b"x"


def test_wss_on_the_https_listener(probe_server: Callable[..., ServerProcess],
                                   tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    server = probe_server("--listen-https=127.0.0.1:0", f"--https-cert={cert}",
                          f"--https-key={key}")
    context = ssl.create_default_context(cafile=str(cert))
    # websockets' sync client reads in a background thread while the handshake is written;
    # TLS 1.3 sends session tickets after the handshake, so the two threads would use one
    # OpenSSL connection at once (client-side 'ssl.SSLError: [SSL] internal error', seen
    # once in CI). TLS 1.2 has no post-handshake messages; the HTTPS tests cover TLS 1.3.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with connect(server.ws_url("/", secure=True), subprotocols=["probe.second"],  # type: ignore[list-item]
                 ssl=context, open_timeout=5) as conn:
        conn.send(b"secure")
        assert conn.recv(timeout=5) == b"second:wss:secure"


def test_without_ws_plugin_upgrade_is_404(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--plugin=probe_ws", "--plugins-deny=ws",
                            env={"PYTHONPATH": str(Path(__file__).parent)})
    with pytest.raises(InvalidStatus) as refused:
        ws(server, "probe.echo")
    assert refused.value.response.status_code == 404
    assert refused.value.response.body == b"not found\n"


def test_server_stop_closes_websockets(probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server()
    with ws(server, "probe.echo") as conn:
        assert server.stop() == 0
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    with pytest.raises(OSError):
        socket.create_connection(server.address(), timeout=2)


def _raw_ws(server: ServerProcess) -> socket.socket:
    """A raw socket past the handshake of a ``probe.echo`` WebSocket."""
    sock = server.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                 b"Sec-WebSocket-Protocol: probe.echo\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


def _close_reply(sock: socket.socket, payload: bytes) -> bytes:
    """Send a close frame with ``payload``; the payload of the server's close frame."""
    sock.sendall(_masked_frame(0x8, payload))
    data = recv_until_closed(sock)
    assert data[0] == 0x88, data
    return data[2:2 + (data[1] & 0x7F)]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999])
def test_invalid_close_code_is_answered_with_1002(shared_server: ServerProcess, code: int) -> None:
    """RFC 6455 7.4: a peer's reserved or undefined close code is a protocol error (Autobahn
    7.9.x); it used to be echoed back."""
    with _raw_ws(shared_server) as sock:
        assert _close_reply(sock, code.to_bytes(2, "big"))[:2] == b"\x03\xea"  # 1002


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000,
                                  3999, 4000, 4999])
def test_valid_close_code_is_echoed(shared_server: ServerProcess, code: int) -> None:
    """Autobahn 7.7.x: a valid code comes back, with the reason (as rtpengine)."""
    with _raw_ws(shared_server) as sock:
        assert _close_reply(sock, code.to_bytes(2, "big") + b"why") == \
            code.to_bytes(2, "big") + b"why"


def test_close_frame_with_one_byte_or_bad_utf8(shared_server: ServerProcess) -> None:
    """Autobahn 7.3.2 (a one-byte close payload: 1002) and 7.5.1 (a reason that is not UTF-8:
    1007)."""
    with _raw_ws(shared_server) as sock:
        assert _close_reply(sock, b"\x03")[:2] == b"\x03\xea"
    with _raw_ws(shared_server) as sock:
        assert _close_reply(sock, b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed"
                            b"\xa0\x80")[:2] == b"\x03\xef"
    with _raw_ws(shared_server) as sock:  # an empty close frame gets an empty one
        assert _close_reply(sock, b"") == b""


def test_sixteen_mib_message_works_by_default(shared_server: ServerProcess) -> None:
    """Autobahn 9.2.6: a 16 MiB binary message is answered, as rtpengine (no limit) does."""
    payload = os.urandom(16 * 1024 * 1024)
    with ws(shared_server, "probe.echo", max_size=None) as conn:
        conn.send(payload)
        assert conn.recv(timeout=60) == payload
