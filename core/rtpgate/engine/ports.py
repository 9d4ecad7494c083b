"""Media port pools: real bound UDP sockets from ``--port-min`` to ``--port-max``.

Each local address has a pool.  A pair for RTP and RTCP starts on an even port (RTCP = RTP + 1);
a port another process holds is skipped.  The socket objects live on the streams so the media
relay can read from and send on them.  Every allocated port is released exactly once:
:meth:`MediaSocket.release` closes the socket and gives the port back, and does nothing the
second time.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .interfaces import LocalAddress

log = logging.getLogger("rtpgate.engine")

_SKIP_ERRNOS = frozenset({errno.EADDRINUSE, errno.EACCES})
#: A non-blocking UDP socket in one system call where the platform allows (Linux).
_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
_DGRAM_NONBLOCK = socket.SOCK_DGRAM | _NONBLOCK


class MediaSocket:
    """One local media port.  ``sock`` is the bound non-blocking UDP socket; it is None for
    rtpengine's placeholder RTCP port of an rtcp-mux-only stream (reported as port 0)."""

    __slots__ = ("local", "pool", "port", "sock", "stream", "unwatch")

    def __init__(self, local: LocalAddress, pool: PortPool | None, port: int,
                 sock: socket.socket | None) -> None:
        self.local = local
        self.pool = pool
        self.port = port
        self.sock = sock
        #: The stream this socket receives for (set by the engine; read by the relay).
        self.stream: Any = None
        #: Set by the media relay while it watches ``sock``; called just before the socket is
        #: closed (an event loop still watching a closed descriptor misses events for whatever
        #: reuses the number).
        self.unwatch: Callable[[], None] | None = None

    @classmethod
    def placeholder(cls, local: LocalAddress) -> MediaSocket:
        return cls(local, None, 0, None)

    @property
    def released(self) -> bool:
        return self.sock is None

    def release(self) -> None:
        """Close the socket and return the port to its pool (once)."""
        sock, self.sock = self.sock, None
        if sock is None:
            return
        unwatch, self.unwatch = self.unwatch, None
        if unwatch is not None:
            unwatch()
        sock.close()
        if self.pool is not None:
            self.pool.give_back(self.port)
        self.stream = None

    def __repr__(self) -> str:
        return f"<MediaSocket {self.local.address}:{self.port}>"


class PortPool:
    """The ports of one local address."""

    def __init__(self, address: str, family: str, port_min: int, port_max: int,
                 start: int | None = None) -> None:
        self.address = address
        self.family = family
        self.af = socket.AF_INET if family == "IP4" else socket.AF_INET6
        self.min = port_min
        self.max = port_max
        self.used: set[int] = set()
        #: First port of the most recent allocation (0 before the first).
        self.last = 0
        #: Where the next allocation looks first (``start``: the range is shared with other
        #: addresses of a dual-stack interface, which begin elsewhere in it).
        first = port_min if start is None or not port_min <= start <= port_max else start
        self._cursor = first + (first & 1)
        #: Every socket handed out and not yet released, for shutdown.
        self._live: dict[int, MediaSocket] = {}

    @property
    def total(self) -> int:
        return self.max - self.min + 1

    @property
    def used_count(self) -> int:
        return len(self.used)

    @property
    def free(self) -> int:
        return self.total - len(self.used)

    def allocate(self, count: int, local: LocalAddress) -> list[MediaSocket] | None:
        """``count`` consecutive ports (the first even when ``count`` > 1), bound; None when
        the range has no such run free."""
        step = 2 if count > 1 else 1
        span = self.total
        port = self._cursor
        tried = 0
        while tried < span:
            if port + count - 1 > self.max:
                port = self.min + (self.min & 1 if step == 2 else 0)
            tried += step
            if any(p in self.used for p in range(port, port + count)):
                port += step
                continue
            socks = self._bind_run(port, count)
            if socks is None:
                port += step
                continue
            if not socks:
                return None
            self._cursor = port + count + ((port + count) & 1)
            self.last = port
            out = []
            for p, sock in zip(range(port, port + count), socks, strict=True):
                self.used.add(p)
                media_socket = MediaSocket(local, self, p, sock)
                self._live[p] = media_socket
                out.append(media_socket)
            return out
        return None

    def take(self, port: int, local: LocalAddress) -> MediaSocket | None:
        """Bind exactly ``port`` (restoring a persisted call); None when it is outside the
        range, already ours, or taken by another process."""
        if not self.min <= port <= self.max or port in self.used:
            return None
        socks = self._bind_run(port, 1)
        if not socks:
            return None
        self.used.add(port)
        media_socket = MediaSocket(local, self, port, socks[0])
        self._live[port] = media_socket
        return media_socket

    def _bind_run(self, port: int, count: int) -> list[socket.socket] | None:
        """Bind ``count`` sockets from ``port``; None if one is taken by someone else, [] when
        binding fails for a reason that no other port would fix."""
        socks: list[socket.socket] = []
        af, v6 = self.af, self.af == socket.AF_INET6
        for p in range(port, port + count):
            sock = socket.socket(af, _DGRAM_NONBLOCK)
            try:
                if not _NONBLOCK:
                    sock.setblocking(False)
                if v6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((self.address, p))
            except OSError as exc:
                sock.close()
                for s in socks:
                    s.close()
                if exc.errno in _SKIP_ERRNOS:
                    return None
                log.error("cannot bind media port %s:%d: %s", self.address, p, exc)
                return []
            socks.append(sock)
        return socks

    def give_back(self, port: int) -> None:
        self.used.discard(port)
        self._live.pop(port, None)

    def close(self) -> None:
        """Release everything still allocated (server shutdown)."""
        for media_socket in list(self._live.values()):
            media_socket.release()
