"""Test helper: the datagrams a party's socket got, each with the time the kernel took it in
(on loopback, when rtpgate sent it; a stalled test does not move it), for the tests that check
rtpgate's timing rather than the pace at which a loaded test happened to read."""

from __future__ import annotations

import socket
import struct

#: Linux's SO_TIMESTAMPNS (the socket module does not name it).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def stamp_arrivals(sock: socket.socket) -> None:
    """Make ``sock`` non-blocking, each datagram it gets carrying its kernel stamp."""
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def drain(sock: socket.socket) -> list[tuple[bytes, float]]:
    """What ``sock`` (see :func:`stamp_arrivals`) has now, each datagram with its kernel stamp
    (``time.time()`` seconds)."""
    out = []
    try:
        while True:
            data, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(16))
            stamps = [struct.unpack("@qq", cdata[:16]) for level, kind, cdata in ancillary
                      if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS]
            assert stamps, ancillary
            out.append((data, stamps[0][0] + stamps[0][1] / 1e9))
    except BlockingIOError:
        return out
