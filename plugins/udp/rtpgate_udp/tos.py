"""rtpengine's ``--control-tos``: the IP TOS byte (IPv6 traffic class) of control replies.

The value is read from the settings at each reply and applied to a socket only when it changed,
so the CLI's ``set controltos N`` takes effect on the next reply without a restart.
"""

from __future__ import annotations

import socket

from rtpgate.api import SettingsView


class TosSettings(SettingsView):
    control_tos: int


class ControlTos:
    """Keeps one socket's TOS in step with ``settings.control_tos``."""

    __slots__ = ("_applied", "_settings")

    def __init__(self, settings: TosSettings) -> None:
        self._settings = settings
        self._applied = 0  # the kernel's default

    def sync(self, sock: socket.socket | None) -> None:
        wanted = self._settings.control_tos
        if wanted == self._applied or sock is None:
            return
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, wanted)
            # an IPv6 wildcard socket also answers IPv4-mapped clients
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, wanted)
        else:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, wanted)
        self._applied = wanted
