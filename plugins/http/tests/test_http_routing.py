"""Routing and reply format of the HTTP transport, against a real server with probe protocols."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from rtpgate.testing import RawResponse, ServerProcess, read_response

CORS = {"access-control-allow-origin": "*", "access-control-max-age": "86400",
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": "Content-Type"}


def exchange(server: ServerProcess, request: bytes, head_only: bool = False) -> RawResponse:
    """Send raw request bytes on a fresh connection and read one response."""
    with server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(request)
        return read_response(reader, head_only)


def get(server: ServerProcess, target: str) -> RawResponse:
    return exchange(server, f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())


def post(server: ServerProcess, target: str, body: bytes, content_type: str | None
         ) -> RawResponse:
    ctype = f"Content-Type: {content_type}\r\n" if content_type is not None else ""
    return exchange(server, f"POST {target} HTTP/1.1\r\nHost: t\r\n{ctype}"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def assert_not_found(resp: RawResponse) -> None:
    assert resp.status_line == b"HTTP/1.1 404 Not Found"
    assert resp.header("Content-Type") == "text/plain"
    assert resp.body == b"not found\n"


def test_exact_path(shared_server: ServerProcess) -> None:
    resp = get(shared_server, "/probe/exact")
    assert resp.status_line == b"HTTP/1.1 200 OK"
    assert resp.body == b"probe-exact http GET '/probe/exact' None 0\n"


@pytest.mark.parametrize("target", ["/probe/exact?x=1", "/probe/exact?", "/probe/exact?a=b&c"])
def test_query_string_is_ignored(shared_server: ServerProcess, target: str) -> None:
    assert get(shared_server, target).body.startswith(b"probe-exact http GET '/probe/exact'")


@pytest.mark.parametrize("target", ["/PROBE/exact", "/probe/Exact", "/probe/exact/",
                                    "/probe/exac", "/probe/exactly", "/", "/probe/prefix"])
def test_paths_match_exactly_and_case_sensitively(shared_server: ServerProcess,
                                                  target: str) -> None:
    assert_not_found(get(shared_server, target))


@pytest.mark.parametrize(("target", "path"), [
    ("/probe/prefix/", "/probe/prefix/"),
    ("/probe/prefix/list+totals", "/probe/prefix/list totals"),
    ("/probe/prefix/a%20b%2Bc", "/probe/prefix/a b+c"),
    ("/probe/prefix/x?y=z", "/probe/prefix/x"),
])
def test_prefix_route_decodes_plus_and_escapes(shared_server: ServerProcess, target: str,
                                               path: str) -> None:
    assert get(shared_server, target).body == f"probe-prefix http GET {path!r} None 0\n".encode()


@pytest.mark.parametrize("content_type", ["application/x-probe", "APPLICATION/X-Probe"])
def test_content_type_matches_case_insensitively(shared_server: ServerProcess,
                                                 content_type: str) -> None:
    resp = post(shared_server, "/probe/typed", b"hello", content_type)
    assert resp.status == 200
    assert resp.body == (f"probe-typed http POST '/probe/typed' {content_type!r} 5\n"
                         .encode() + b"hello")


@pytest.mark.parametrize("content_type", ["application/x-probe; charset=utf-8", "text/plain",
                                          "application/x-probe2", None])
def test_other_content_types_are_not_found(shared_server: ServerProcess,
                                           content_type: str | None) -> None:
    assert_not_found(post(shared_server, "/probe/typed", b"hello", content_type))


def test_method_is_part_of_the_route(shared_server: ServerProcess) -> None:
    assert_not_found(get(shared_server, "/probe/typed"))
    assert_not_found(post(shared_server, "/probe/exact", b"x", "text/plain"))


def test_not_found_bytes(shared_server: ServerProcess) -> None:
    resp = get(shared_server, "/nowhere")
    assert_not_found(resp)
    assert resp.headers[:2] == [("Content-Type", "text/plain"), ("Content-Length", "10")]


@pytest.mark.parametrize("request_bytes", [
    b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /probe/reject HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /probe/boom HTTP/1.1\r\nHost: t\r\n\r\n",
    b"GET /probe/silent HTTP/1.1\r\nHost: t\r\n\r\n",
    b"OPTIONS /anything HTTP/1.1\r\nHost: t\r\n\r\n",
    b"DELETE /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n",
])
def test_cors_and_content_length_on_every_reply(shared_server: ServerProcess,
                                                request_bytes: bytes) -> None:
    resp = exchange(shared_server, request_bytes)
    headers = {k.lower(): v for k, v in resp.headers}
    assert {k: headers.get(k) for k in CORS} == CORS
    assert headers["content-length"] == str(len(resp.body))


def test_options_is_empty_200_without_content_type(shared_server: ServerProcess) -> None:
    resp = exchange(shared_server, b"OPTIONS /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n")
    assert resp.status_line == b"HTTP/1.1 200 OK"
    assert resp.header("Content-Type") is None
    assert resp.header("Content-Length") == "0"
    assert resp.body == b""


def test_head_and_delete_are_not_found(shared_server: ServerProcess) -> None:
    head = exchange(shared_server, b"HEAD /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n",
                    head_only=True)
    assert head.status_line == b"HTTP/1.1 404 Not Found"
    assert_not_found(exchange(shared_server, b"DELETE /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n"))


def test_rejected_gives_its_status_with_empty_reason(shared_server: ServerProcess) -> None:
    with shared_server.connect() as sock:
        sock.sendall(b"GET /probe/reject HTTP/1.1\r\nHost: t\r\n\r\n")
        raw = b""
        while not raw.endswith(b"error\n"):
            raw += sock.recv(4096)
    assert raw.startswith(b"HTTP/1.1 600 \r\nContent-Type: text/plain\r\nContent-Length: 6\r\n")


def test_protocol_exception_is_500_and_connection_stays_usable(
        shared_server: ServerProcess) -> None:
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /probe/boom HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(reader).status == 500
        sock.sendall(b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(reader).status == 200
    assert "probe failure" in shared_server.log


def test_no_reply_is_empty_200(shared_server: ServerProcess) -> None:
    resp = get(shared_server, "/probe/silent")
    assert (resp.status, resp.body, resp.header("Content-Length")) == (200, b"", "0")


def test_http_10_closes_after_the_reply(shared_server: ServerProcess) -> None:
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /probe/exact HTTP/1.0\r\n\r\n")
        assert read_response(reader).status_line == b"HTTP/1.0 200 OK"  # as rtpengine
        sock.settimeout(3)
        assert reader.read() == b""


def test_keep_alive_serves_many_requests(shared_server: ServerProcess) -> None:
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        for _ in range(5):
            sock.sendall(b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_response(reader).status == 200


def test_pipelined_replies_keep_request_order(shared_server: ServerProcess) -> None:
    requests = [b"GET /probe/slow HTTP/1.1\r\nHost: t\r\n\r\n",
                b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n",
                b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n",
                b"POST /probe/typed HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-probe\r\n"
                b"Content-Length: 3\r\n\r\nabc",
                b"GET /probe/slow HTTP/1.1\r\nHost: t\r\n\r\n"]
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"".join(requests))
        bodies = [read_response(reader).body for _ in requests]
    assert bodies[0] == b"slow\n"
    assert bodies[1].startswith(b"probe-exact")
    assert bodies[2] == b"not found\n"
    assert bodies[3].endswith(b"abc")
    assert bodies[4] == b"slow\n"


def test_connection_close_header_closes(shared_server: ServerProcess) -> None:
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"GET /probe/exact HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert read_response(reader).status == 200
        assert reader.read() == b""


def test_expect_100_continue(shared_server: ServerProcess) -> None:
    """curl sends ``Expect: 100-continue`` before a larger body and waits for the 100."""
    with shared_server.connect() as sock, sock.makefile("rb") as reader:
        sock.sendall(b"POST /probe/typed HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-probe"
                     b"\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        sock.settimeout(2)
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(b"abc")
        assert read_response(reader).body.endswith(b"abc")


def test_http_client_library_sees_the_same(shared_server: ServerProcess) -> None:
    """The stdlib client (what users' scripts use) reads our replies without complaint."""
    status, headers, body = shared_server.http("GET", "/probe/exact")
    assert (status, headers["content-type"], body[:11]) == (200, "text/plain", b"probe-exact")


def test_bound_listener_is_loopback(shared_server: ServerProcess) -> None:
    host, port = shared_server.address("http")
    assert host == "127.0.0.1" and port > 0
    with socket.create_connection((host, port), timeout=2):
        pass


def test_client_that_reads_slowly_gets_every_reply_in_order(shared_server: ServerProcess) -> None:
    """Replies pile up faster than the client reads (several MB): they are queued, not lost."""
    bodies = [b"%05d" % i + b"x" * 20_000 for i in range(300)]
    head = b"POST /probe/typed HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-probe\r\n"
    requests = b"".join(head + b"Content-Length: %d\r\n\r\n%s" % (len(b), b) for b in bodies)
    with shared_server.connect(timeout=30) as sock, sock.makefile("rb") as reader:
        sender = threading.Thread(target=sock.sendall, args=(requests,))
        sender.start()
        time.sleep(1)  # let the server's send buffer fill up before reading anything
        replies = [read_response(reader).body for _ in bodies]
        sender.join()
    assert [r[-len(b):] for r, b in zip(replies, bodies, strict=True)] == bodies
