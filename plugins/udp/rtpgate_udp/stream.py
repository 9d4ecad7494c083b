"""A TCP connection serving one protocol: the byte stream is cut into messages by the protocol's
framer, the messages are handled one after the other and the replies written in that order.

Several messages in one read are all handled; an incomplete message stays buffered until it
completes, and a buffer that grows past the listener's ``max_buffer`` without completing one
closes the connection (rtpengine closes its ng and CLI streams the same way).  A client that
sends faster than it is answered, or does not read its replies, is throttled: reading pauses
while :data:`MAX_QUEUED` messages wait or while the socket's send buffer is full.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import cast

from rtpgate.api import Channel, Message, Protocol, Rejected, StreamListener

from .datagram import NOISY, Guard, Spawn
from .tos import ControlTos, TosSettings

log = logging.getLogger("rtpgate.tcp")

#: Complete messages waiting on one connection before reading pauses.
MAX_QUEUED = 64


class StreamService:
    """What the connections of one listener share."""

    def __init__(self, protocol: Protocol, listener: StreamListener, spawn: Spawn,
                 settings: TosSettings, guard: Guard) -> None:
        self.guard = guard
        self.protocol = protocol
        self.settings = settings
        self.listener = listener
        self.spawn = spawn
        self.connections: set[StreamConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    def connection(self) -> StreamConnection:
        return StreamConnection(self)

    def close_all(self) -> None:
        for connection in list(self.connections):
            connection.close()


class TcpChannel(Channel):
    """What a protocol sees of one connection (:meth:`Protocol.stream_opened`): it may send
    on it at any time; while the client does not read (the socket's buffer is full) nothing
    more is queued."""

    transport = "tcp"

    def __init__(self, connection: StreamConnection) -> None:
        self._connection = connection
        self.peer = connection.peer
        self.local = connection.local

    def send(self, body: bytes) -> bool:
        connection = self._connection
        if connection.done or connection.transport is None or \
                not connection.writable.is_set():
            return False
        connection.transport.write(body)
        return True

    @property
    def closed(self) -> bool:
        return self._connection.done


class StreamConnection(asyncio.Protocol):
    def __init__(self, service: StreamService) -> None:
        self.service = service
        self.tos = ControlTos(service.settings)
        self.framer = service.listener.framer
        self.buffer = bytearray()
        self.queue: collections.deque[bytes] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] | None = None
        self.local: tuple[str, int] | None = None
        self.working = False
        self.eof = False
        self.done = False  #: closing: nothing more is read or handled
        self.read_paused = False
        self.writable = asyncio.Event()
        self.writable.set()
        self.channel: TcpChannel | None = None

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        self.peer = (peer[0], peer[1]) if peer else None
        self.local = (local[0], local[1]) if local else None
        if not self.service.guard.admits(self.peer[0] if self.peer else ""):
            self.done = True
            self.transport.abort()  # closed before anything is read
            return
        self.service.connections.add(self)
        self.channel = TcpChannel(self)
        try:
            self.service.protocol.stream_opened(self.channel)
        except Exception:
            log.exception("TCP %s: the protocol's stream_opened failed", self.local)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        if self.buffer:
            self.buffer += data
            data = bytes(self.buffer)
        messages, used = self.framer(data)
        self.buffer[:] = data[used:]
        if len(self.buffer) > self.service.listener.max_buffer:
            NOISY.log(log, logging.INFO, (self.peer[0] if self.peer else None, "incomplete"),
                      "TCP %s: %d bytes from %s form no complete message; connection closed",
                      self.local, len(self.buffer), self.peer)
            self.close()
            return
        if messages:
            self.queue.extend(messages)
            if len(self.queue) >= MAX_QUEUED and not self.read_paused:
                self._transport.pause_reading()
                self.read_paused = True
            self._kick()

    def eof_received(self) -> bool:
        self.eof = True
        return self.working  # half-closed while working: answer what was sent, then close

    def connection_lost(self, exc: Exception | None) -> None:
        self.done = True
        self.queue.clear()
        self.writable.set()
        self.service.connections.discard(self)
        if self.channel is not None:
            channel, self.channel = self.channel, None
            try:
                self.service.protocol.stream_closed(channel)
            except Exception:
                log.exception("TCP %s: the protocol's stream_closed failed", self.local)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    # ------------------------------------------------------------------ handling

    @property
    def _transport(self) -> asyncio.Transport:
        assert self.transport is not None
        return self.transport

    def _kick(self) -> None:
        if self.working or not self.queue:
            return
        self.working = True
        task = self.service.spawn(self._work())
        if not task.done():
            self.service.tasks.add(task)
            task.add_done_callback(self.service.tasks.discard)

    async def _work(self) -> None:
        protocol = self.service.protocol
        try:
            while self.queue and not self.done:
                body = self.queue.popleft()
                if self.read_paused and len(self.queue) < MAX_QUEUED // 2:
                    self._transport.resume_reading()
                    self.read_paused = False
                message = Message(body, "tcp", peer=self.peer, local=self.local)
                try:
                    reply = await protocol.handle(message)
                except Rejected:
                    reply = None  # framing refusal: nothing is sent on a message transport
                except Exception:
                    log.exception("protocol %s failed on a message from %s", protocol.name,
                                  self.peer)
                    reply = None
                if self.done:
                    break
                if reply is not None:
                    self.tos.sync(self._transport.get_extra_info("socket"))
                    self._transport.write(reply.body)
                if self.service.listener.close_after_reply:
                    self.close()
                    break
                await self.writable.wait()
        finally:
            self.working = False
            if self.eof and not self.done:
                self.close()

    def close(self) -> None:
        """Stop reading and handling; what was written is still flushed."""
        self.done = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.close()
