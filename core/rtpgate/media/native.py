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
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

    from .stream import RelayStream

try:
    from ._fastrelay import Poller, Reader
except ImportError:  # not built (RTPGATE_NATIVE=0, or no compiler at install time)
    Reader = None  # type: ignore[assignment,misc]
    Poller = None  # type: ignore[assignment,misc]

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
