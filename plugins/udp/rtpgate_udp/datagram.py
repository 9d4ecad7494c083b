"""A UDP socket serving one protocol: every datagram is one message, the reply goes back to the
sender from the address the datagram was sent to.

The socket is read with ``loop.add_reader`` rather than an asyncio ``DatagramProtocol`` because
the transport must see each datagram's destination address on a wildcard bind (``IP_PKTINFO`` /
``IPV6_RECVPKTINFO``, read with ``recvmsg``) and hand it back as the reply's source (``sendmsg``
with the same packet info), which is what rtpengine does (``control_ng_send_from``).  On a
socket bound to one address the plain ``recvfrom``/``sendto`` calls are used.

Work per wake-up is bounded: at most :data:`BATCH` datagrams are read before the loop gets back
to other sockets, and at most :data:`MAX_IN_FLIGHT` messages are being handled per socket.  Above
that the socket is not read until half of them are done; meanwhile the kernel queue fills and
then drops, so a flood costs bounded memory and never starves the other listeners.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from rtpgate.api import (
    AccessStats,
    DatagramListener,
    LogLimiter,
    Message,
    Protocol,
    Rejected,
    SourceFilter,
    refused,
)

from .binding import IP_PKTINFO, BoundSocket
from .tos import ControlTos

log = logging.getLogger("rtpgate.udp")
#: Warnings a sender can cause at will: at most one per source address, kind and minute.
NOISY = LogLimiter(interval=60.0)

#: Datagrams read per wake-up of one socket.
BATCH = 32
#: Messages handled at once per socket before reading pauses.
MAX_IN_FLIGHT = 256
_IN_PKTINFO = struct.Struct("=I4s4s")  # ifindex, spec_dst (local address), addr (header dst)
_IN6_PKTINFO = struct.Struct("=16sI")  # addr, ifindex
_ANCILLARY = socket.CMSG_SPACE(_IN6_PKTINFO.size)

#: Starts running a coroutine; eagerly on Python 3.12+ so a message answered without waiting
#: (ping, a cached cookie, a decode error) never goes through the loop's ready queue.
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


@dataclass(slots=True)
class Guard:
    """A listener's source allow list, with where its refusals are counted."""

    allowed: SourceFilter
    stats: AccessStats
    kind: str  #: ``ng-udp``, ``cli-tcp``, ...

    def admits(self, host: str) -> bool:
        if not self.allowed or self.allowed.allows(host):
            return True
        refused(self.stats, self.kind, "source", host)
        return False


class DatagramEndpoint:
    """One bound UDP socket and the protocol its datagrams go to."""

    def __init__(self, bound: BoundSocket, protocol: Protocol, listener: DatagramListener,
                 spawn: Spawn, tos: ControlTos, guard: Guard) -> None:
        self.guard = guard
        self.sock = bound.sock
        self.tos = tos
        self.wildcard = bound.wildcard
        self.protocol = protocol
        self.family = self.sock.family
        self.local: tuple[str, int] = self.sock.getsockname()[:2]
        # One byte more than the largest datagram accepted: a fuller read means "too large".
        self._buffer = bytearray(max(listener.max_datagram, 1) + 1)
        self._view = memoryview(self._buffer)
        self._spawn = spawn
        self._loop = asyncio.get_running_loop()
        self._in_flight = 0
        self._reading = False
        self._closed = False
        self.tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ reading

    def start(self) -> None:
        self._resume()

    def _resume(self) -> None:
        if not self._reading and not self._closed:
            self._loop.add_reader(self.sock.fileno(), self._readable)
            self._reading = True

    def _pause(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.sock.fileno())
            self._reading = False

    def _readable(self) -> None:
        sock, buffer, view = self.sock, self._buffer, self._view
        limit = len(buffer) - 1
        for _ in range(BATCH):
            pktinfo: tuple[int, int, bytes] | None = None
            try:
                if self.wildcard:
                    size, ancillary, _, peer = sock.recvmsg_into([buffer], _ANCILLARY)
                    pktinfo = next(iter(ancillary), None)
                else:
                    size, peer = sock.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error queued on the socket: nothing to read
                log.debug("UDP %s: receive failed: %s", self.local, exc)
                return
            if not self.guard.admits(peer[0]):
                continue  # no reply: a refused source learns nothing
            if size > limit:
                NOISY.log(log, logging.WARNING, (peer[0], "too large"),
                          "UDP %s: datagram from %s larger than %d bytes dropped", self.local,
                          peer[:2], limit)
                continue
            self._in_flight += 1
            task = self._spawn(self._serve(bytes(view[:size]), peer, pktinfo))
            if not task.done():
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            if self._in_flight >= MAX_IN_FLIGHT:
                self._pause()
                return

    # ------------------------------------------------------------------ one message

    async def _serve(self, body: bytes, peer: Any, pktinfo: tuple[int, int, bytes] | None
                     ) -> None:
        try:
            local = self._local_of(pktinfo)
            message = Message(body, "udp", peer=(peer[0], peer[1]), local=local)
            try:
                reply = await self.protocol.handle(message)
            except Rejected:
                return  # framing refusal: no reply on UDP (rtpengine drops a cookieless datagram)
            except Exception:
                log.exception("protocol %s failed on a datagram from %s", self.protocol.name,
                              message.peer)
                return
            if reply is not None and not self._closed:
                self._send(reply.body, peer, pktinfo)
        finally:
            self._in_flight -= 1
            if not self._reading and self._in_flight <= MAX_IN_FLIGHT // 2:
                self._resume()

    def _local_of(self, pktinfo: tuple[int, int, bytes] | None) -> tuple[str, int]:
        if pktinfo is None:
            return self.local
        level, kind, data = pktinfo
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            address = socket.inet_ntop(socket.AF_INET, _IN_PKTINFO.unpack_from(data)[2])
        elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            address = socket.inet_ntop(socket.AF_INET6, _IN6_PKTINFO.unpack_from(data)[0])
        else:
            return self.local
        return address, self.local[1]

    def _send(self, body: bytes, peer: Any, pktinfo: tuple[int, int, bytes] | None) -> None:
        try:
            self.tos.sync(self.sock)
            if pktinfo is None:
                self.sock.sendto(body, peer)
            else:
                self.sock.sendmsg([body], [_source(pktinfo)], 0, peer)
        except (BlockingIOError, InterruptedError):
            NOISY.log(log, logging.WARNING, (peer[0], "queue full"),
                      "UDP %s: send queue full, reply to %s dropped", self.local, peer[:2])
        except OSError as exc:
            NOISY.log(log, logging.WARNING, (peer[0], "not sent"),
                      "UDP %s: reply of %d bytes to %s not sent: %s", self.local, len(body),
                      peer[:2], exc.strerror or exc)

    # ------------------------------------------------------------------ shutdown

    def close(self) -> None:
        self._pause()
        self._closed = True
        self.sock.close()


def _source(pktinfo: tuple[int, int, bytes]) -> tuple[int, int, bytes]:
    """The packet info that makes a reply leave from the address the request was sent to."""
    level, kind, data = pktinfo
    if level == socket.IPPROTO_IP:
        _, spec_dst, _ = _IN_PKTINFO.unpack_from(data)
        return level, kind, _IN_PKTINFO.pack(0, spec_dst, bytes(4))
    return level, kind, data  # in6_pktinfo: the destination address and its interface
