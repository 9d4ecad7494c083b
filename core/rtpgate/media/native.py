"""The native read loop: the optional C extension :mod:`rtpgate.media._fastrelay`.

When it is built (``setup.py`` builds it with the machine's C compiler unless
``RTPGATE_NATIVE=0`` at build time; a failed build leaves the pure-Python relay) and not turned
off at run time (``RTPGATE_NATIVE_RELAY=0`` in the server's environment), each socket's loop
reader is a ``_fastrelay.Reader`` instead of :meth:`RelayStream.read
<rtpgate.media.stream.RelayStream.read>`.  The reader asks its stream for a *route*
(:meth:`RelayStream._native_route <rtpgate.media.stream.RelayStream._native_route>`): RTP from
the confirmed endpoint (or the one learnt so far, until the learning window closes), with the
SSRC seen last, to a sink with a known endpoint and to each subscriber of a published stream,
through no stage but SRTP done by libsrtp.  Packets that fit are read with ``recvmmsg``,
decrypted and encrypted by libsrtp in the session pylibsrtp made (by its address), and sent
with ``sendmmsg`` (a subscriber's copy with ``sendto``), up to 32 per wake-up; every other
datagram goes to
:meth:`RelayStream.packet <rtpgate.media.stream.RelayStream.packet>` in order, and a stream
without a route is read by the Python loop as before.  So what is relayed, learnt, counted and
dropped is the same either way (the same tests run both ways: ``tox -e pure`` runs the media
tests without the extension).  docs/media.md has the details, docs/performance.md the figures.

A stream whose last ingress stage only copies its packets to a :class:`Capture` (the stage's
``capture``: :mod:`rtpgate.media.pipeline`) keeps its route: the reader appends each packet it
relays to that capture as a pcap record, where the stage would have seen it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

    from .stream import RelayStream

try:
    from ._fastrelay import Capture, Poller, Reader
except ImportError:  # not built (RTPGATE_NATIVE=0, or no compiler at install time)
    Reader = None  # type: ignore[assignment,misc]
    Poller = None  # type: ignore[assignment,misc]
    Capture = None  # type: ignore[assignment,misc]

#: Set to ``0`` in the server's environment to relay in Python although the extension is built.
SWITCH = "RTPGATE_NATIVE_RELAY"


def built() -> bool:
    """The extension is installed."""
    return Reader is not None


def enabled() -> bool:
    """The relay will use the extension (built, and not switched off)."""
    return Reader is not None and os.environ.get(SWITCH, "1") != "0"


def reader(stream: RelayStream, sock: socket.socket) -> Reader:
    """The loop's reader callback for ``sock``, one of ``stream``'s sockets."""
    assert Reader is not None
    return Reader(sock.fileno(), stream, sock.recvfrom)


def poller() -> Poller:
    """A new epoll set for native readers: the loop watches its ``fd`` and calls it, and it
    runs the reader of each of its sockets that is ready (``add(reader)``, ``remove(fd)``)."""
    assert Poller is not None
    return Poller()


def capture(limit: int, eth: bool, flush_at: int, full: Callable[[], object]
            ) -> Capture | None:
    """A buffer of at most ``limit`` pcap records (big-endian, each with an Ethernet header when
    ``eth``, then IPv4/IPv6 and UDP headers without checksums, then the packet) that the native
    read loop fills for a stage naming one of its views (``capture.stream(host, port)``: the
    stream's local address; ``view.add(data, host, port)`` adds a record on the Python path);
    ``take()`` returns ``(records, count, native, dropped)`` and empties it; ``full()`` is
    called on the loop once ``flush_at`` bytes wait.  ``None`` when the relay does not use the
    extension (:func:`enabled`): the stage then does its work in Python, as without it."""
    if not enabled():
        return None
    assert Capture is not None
    return Capture(limit, eth, flush_at, full)
