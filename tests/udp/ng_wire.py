"""Small ng clients on raw sockets for the tests of ng over UDP and TCP."""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path
from typing import Any

from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

_cookies = itertools.count()

#: Listener options of a server with every control transport on ephemeral loopback ports.
ALL_LISTENERS = ("--listen-ng=127.0.0.1:0", "--listen-ng=[::1]:0", "--listen-tcp-ng=127.0.0.1:0",
                 "--listen-cli=127.0.0.1:0", "--listen-http=127.0.0.1:0")


def cookie() -> bytes:
    return b"t%d-%d" % (os.getpid(), next(_cookies))


def udp_request(address: tuple[str, int], body: bytes, source: str | None = None,
                timeout: float = 2.0) -> bytes | None:
    """One datagram from a fresh socket (bound to ``source``); the reply or None."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        if source:
            sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.sendto(body, address)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def ng_udp(address: tuple[str, int], request: dict[str, Any], source: str | None = None
           ) -> dict[str, Any]:
    """A bencoded request with a fresh cookie; the decoded reply (the cookie checked)."""
    key = cookie()
    reply = udp_request(address, key + b" " + codec.encode(request, "bencode"), source)
    assert reply is not None, f"no reply to {request}"
    got, _, payload = reply.partition(b" ")
    assert got == key
    return codec.decode(payload)[0]


def rss_kib(server: ServerProcess) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmRSS:")))


def open_fds(server: ServerProcess) -> int:
    assert server.proc is not None
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))
