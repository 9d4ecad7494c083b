"""systemd's readiness protocol (``sd_notify``) for ``Type=notify`` units.

One datagram of ``KEY=value`` lines to the socket named by ``$NOTIFY_SOCKET`` (a path, or
``@name`` for the abstract namespace).  Without that variable every call does nothing, so the
server calls these unconditionally.  Written by hand: the protocol is one ``sendto``, and the
bindings (``systemd-python``, ``sdnotify``) would be a dependency for that one call.
"""

from __future__ import annotations

import os
import socket


def notify(*fields: str) -> bool:
    """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``); True when a socket was there."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    payload = "\n".join(fields).encode("utf-8", "replace")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(payload, address)
    except OSError:
        return False
    return True


def ready(status: str) -> None:
    notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")


def status(text: str) -> None:
    notify(f"STATUS={text}")


def stopping(status: str) -> None:
    notify("STOPPING=1", f"STATUS={status}")
