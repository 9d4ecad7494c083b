"""A reply whose write fails ends the connection's serving at once (no traceback, no write to
the closed stream), on a real loopback TCP connection whose client resets it."""

from __future__ import annotations

import socket
import struct
from typing import Any

import pytest
from tornado.iostream import IOStream, StreamClosedError

from rtpgate_http.connection import HttpConnection


async def test_a_write_that_fails_at_once_raises_and_the_next_one_too() -> None:
    """Tornado's ``write`` fails inline when the client has reset the connection: it closes the
    stream and returns a future already failed.  That failure must end the serving (the next
    pipelined reply went to the closed stream's missing socket: AttributeError, seen at two
    workers in the hostile-input run, where replies from the other worker take longer)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        accepted, address = listener.accept()
    accepted.setblocking(False)
    stream = IOStream(accepted)
    transport: Any = None  # writing needs none of the transport
    connection = HttpConnection(transport, stream, address, "http")
    try:
        # the client reads nothing: a large reply fills both buffers and Tornado queues the rest
        queued = stream.write(b"x" * 16_000_000)
        assert stream.writing() and not queued.done()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset
        with pytest.raises(StreamClosedError):
            await connection._write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        assert stream.closed()
        with pytest.raises(StreamClosedError):
            await connection._write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        with pytest.raises(StreamClosedError):
            await queued
    finally:
        stream.close()
