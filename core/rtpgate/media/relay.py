"""The relay: registers media sockets with the running event loop.

There is one :class:`Relay` per server, on the loop the engine and the control protocols use
(uvloop where installed).  Sockets are watched with ``loop.add_reader`` and read with
non-blocking ``recvfrom`` in the stream's own handler; under uvloop this measured faster than
asyncio datagram endpoints (``docs/media.md`` has the figures), and it lets the relay use the
engine's sockets as they are, without a transport object per port.  With the C extension
built (:mod:`rtpgate.media.native`), the reader of each socket is native and hands the
stream's Python handler only what it does not relay itself; the native readers are then not
registered with the loop one by one but watched by one epoll set of the relay's
(:class:`rtpgate.media.native.Poller`), whose descriptor is the loop's only reader for media,
so that a wake-up of the loop runs every ready socket's reader without a Python-level call
per socket.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import native
from .stream import Activity, Counters, RelayStream

if TYPE_CHECKING:
    from ..counters import Stats


class Relay:
    """Relays media between the sockets it is given.  Creating one does no I/O; streams are
    opened on the running loop."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        #: Open streams by the descriptor of each socket they read.
        self.streams: dict[int, RelayStream] = {}
        #: The loop's reader callback of each descriptor (a native reader, when used).
        self.readers: dict[int, Callable[[], object]] = {}
        #: The native read loop is used (:func:`rtpgate.media.native.enabled` at creation).
        self.native = native.enabled()
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The epoll set of the native readers (made on the running loop when first needed).
        self.poller: native.Poller | None = None
        stats.measures_media = True

    def open(self, sock: socket.socket, interface: tuple[str, str] = ("default", "127.0.0.1"),
             *, rtcp: bool = False, stats_in: Counters | None = None,
             stats_out: Counters | None = None, owner: Activity | None = None,
             local: tuple[str, int] | None = None) -> RelayStream:
        """Start relaying what arrives on ``sock``, a bound UDP socket that the caller keeps
        and closes after :meth:`RelayStream.release`; packets for the stream's party are sent
        from it.  ``interface`` is ``(name, address)`` of its local interface, for the
        per-interface counters; ``rtcp`` marks an RTCP-only port.  ``stats_in``/``stats_out``
        and ``owner`` (whose ``last_packet`` is stamped) may be the engine's own objects, so
        that it reads what the relay counts without copying.  ``local`` is the socket's address
        if the caller knows it (saves a ``getsockname``)."""
        stream = RelayStream(self, sock, interface, self.stats.interface(*interface),
                             self.stats.relayed, rtcp, stats_in, stats_out, owner,
                             local or sock.getsockname())
        self.add_socket(stream, sock)
        return stream

    def add_socket(self, stream: RelayStream, sock: socket.socket) -> None:
        """Also relay what arrives on ``sock`` as ``stream``'s (another local address of the
        same stream, as rtpengine's several ``sfds``; replies still leave from its first)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if sock.gettimeout() != 0.0:
            sock.setblocking(False)
        fd = sock.fileno()
        stale = self.streams.get(fd)
        if stale is not None:
            # Its socket was closed without a release and the number reused: the loop's
            # registration for the old socket must go first, or the new one never fires.
            stale.release()
        reader: Callable[[], object]
        if self.native:
            native_reader = native.reader(stream, sock)
            self._native_poller().add(native_reader)
            reader = native_reader
        else:
            reader = functools.partial(stream.read, sock.recvfrom)
            self._loop.add_reader(fd, reader)
        self.streams[fd] = stream
        self.readers[fd] = reader
        stream.fds.append(fd)

    def _native_poller(self) -> native.Poller:
        """The epoll set of the native readers, registered with the loop on first use."""
        if self.poller is None:
            assert self._loop is not None
            poller = native.poller()
            self._loop.add_reader(poller.fd, poller)
            self.poller = poller
        return self.poller

    def _unwatch(self, fd: int) -> None:
        """Stop watching descriptor ``fd`` (its stream's entry is gone)."""
        del self.streams[fd]
        del self.readers[fd]
        if self.poller is not None and self.native:
            self.poller.remove(fd)
            if not self.poller.watched:
                # a server whose calls have all ended holds no descriptor they made (the next
                # call makes a new set); safe inside the poller's own round too, where a
                # reader's Python code released the last stream: the round skips readers
                # no longer in the set and touches nothing of a closed one
                self._close_poller()
        elif self._loop is not None:
            self._loop.remove_reader(fd)

    def _close_poller(self) -> None:
        assert self.poller is not None
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.poller.fd)
        self.poller.close()
        self.poller = None

    def remove_socket(self, stream: RelayStream, fd: int) -> None:
        """Stop reading descriptor ``fd`` for ``stream`` (one of its extra sockets is going)."""
        if self.streams.get(fd) is stream:
            self._unwatch(fd)
        if fd in stream.fds:
            stream.fds.remove(fd)

    def forget(self, stream: RelayStream) -> None:
        """Called by :meth:`RelayStream.release`: stop watching its sockets."""
        for fd in stream.fds:
            if self.streams.get(fd) is stream:
                self._unwatch(fd)
        stream.fds.clear()

    def close(self) -> None:
        """Release every stream (server shutdown), then close the native readers' epoll set."""
        for stream in list(self.streams.values()):
            stream.release()
        if self.poller is not None:
            self._close_poller()
