"""``--control-tos``: the TOS byte of the replies on the raw control sockets."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable

from rtpgate.testing import ServerProcess

Start = Callable[..., ServerProcess]


def reply_tos(server: ServerProcess) -> int:
    """The TOS byte of a probe reply over UDP, as the receiving socket reports it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
        sock.settimeout(5)
        sock.sendto(b"hello", server.address("probe-udp"))
        data, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(1))
    assert data.endswith(b"|hello")
    [(level, kind, value)] = ancillary
    assert (level, kind) == (socket.IPPROTO_IP, socket.IP_TOS)
    return value[0]


def test_replies_carry_the_configured_tos(probe_server: Start) -> None:
    assert reply_tos(probe_server("--listen-probe=127.0.0.1:0", "--control-tos=184")) == 184


def test_default_leaves_the_system_tos(probe_server: Start) -> None:
    assert reply_tos(probe_server("--listen-probe=127.0.0.1:0")) == 0


def test_bad_value_is_refused_before_listening() -> None:
    done = subprocess.run([sys.executable, "-m", "rtpgate", "-f", "-E", "--config-file=none",
                           "--control-tos=256"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "--control-tos" in done.stderr
