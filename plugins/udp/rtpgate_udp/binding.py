"""Turning one listener address into bound sockets, the way rtpengine reads ``--listen-*``.

A bare port (``2223``) means every address: the IPv4 and the IPv6 wildcard, each its own socket
(IPv6 sockets are ``IPV6_V6ONLY``, so an IPv4 peer is never seen as ``::ffff:a.b.c.d``).  A host
name is resolved and every address it has is bound.  With port 0 the kernel picks a port for the
first socket and the others reuse it, so one address stays one port.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket
from dataclasses import dataclass

from rtpgate.api import Endpoint

#: Linux's value; the ``socket`` module of Python < 3.14 does not name it.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


@dataclass(frozen=True, slots=True)
class BoundSocket:
    sock: socket.socket
    #: Bound to ``0.0.0.0`` or ``::``: the local address of a datagram must be read from its
    #: packet info, and a reply must name it as its source.
    wildcard: bool

    @property
    def host(self) -> str:
        return str(self.sock.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


def _addresses(endpoint: Endpoint, sock_type: int) -> list[tuple[int, tuple[str, int]]]:
    """``(family, (host, port))`` to bind, IPv4 first, without duplicates."""
    try:
        infos = socket.getaddrinfo(endpoint.host or None, endpoint.port, socket.AF_UNSPEC,
                                   sock_type, 0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot resolve {endpoint}: "
                                 f"{exc.strerror}") from exc
    found: dict[tuple[int, str], None] = {}
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            found[(family, str(sockaddr[0]))] = None
    return [(family, (host, endpoint.port))
            for family, host in sorted(found, key=lambda k: k[0] != socket.AF_INET)]


def bind(endpoint: Endpoint, sock_type: int, backlog: int = 1024, reuse_port: bool = False
         ) -> list[BoundSocket]:
    """Bind (and for TCP listen on) every address of ``endpoint``; non-blocking sockets.
    ``reuse_port``: ``SO_REUSEPORT``, the same address bound by every worker process (the
    kernel spreads datagrams and connections over them).

    An IPv6 wildcard on a host without IPv6 is skipped; any other failure closes what was bound
    and raises ``OSError`` naming the address.
    """
    bound: list[BoundSocket] = []
    port = endpoint.port
    try:
        for family, (host, _) in _addresses(endpoint, sock_type):
            wildcard = ipaddress.ip_address(host.split("%")[0]).is_unspecified
            sock = socket.socket(family, sock_type)
            try:
                _configure(sock, family, sock_type, wildcard)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                if (family == socket.AF_INET6 and wildcard and not endpoint.host
                        and exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)):
                    continue
                label = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                raise OSError(exc.errno, f"cannot bind {label}: {exc.strerror}") from exc
            if sock_type == socket.SOCK_STREAM:
                sock.listen(backlog)
            bound.append(BoundSocket(sock, wildcard))
            port = bound[0].port  # port 0: every address gets the port the kernel picked first
    except BaseException:
        for item in bound:
            item.sock.close()
        raise
    return bound


def _configure(sock: socket.socket, family: int, sock_type: int, wildcard: bool) -> None:
    sock.setblocking(False)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if sock_type == socket.SOCK_STREAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    elif wildcard:
        if family == socket.AF_INET:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    with contextlib.suppress(OSError):  # bursts of control traffic: a larger receive queue
        if sock_type == socket.SOCK_DGRAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
