"""One HTTP/1.1 connection: parse requests (httptools, the C parser uvicorn uses), answer them
in order, keep the connection alive until it idles out.

Requests are answered one at a time in the order they arrived, so pipelined requests get their
replies in order even when an earlier handler is slow.  A handler is awaited in this
connection's own task: no task per request, and a handler that answers without waiting is
answered in the same loop iteration.

Limits, each affecting only this connection: a request head over :data:`MAX_HEAD` bytes gets
431, a body over ``--http-max-body`` gets 413 (both then close the connection), unparsable
input gets 400 and a close, and a connection from which nothing arrives for
``--http-idle-timeout`` seconds while no request is being answered is closed (whether it is
idle between requests or stopped in the middle of one).  A request head (request line and
headers) not complete ``--http-head-timeout`` seconds after its first byte gets 408 and a close,
however steadily its bytes trickle in: the idle timer alone let a client that sends one header
byte a second keep a connection for ever (slowloris).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httptools
from rtpgate.api import HttpUpgrade, Message, Rejected, Reply, refused
from tornado.httputil import RequestStartLine
from tornado.iostream import IOStream, StreamClosedError

from . import wire
from .router import request_path
from .upgrade import RequestContext, hand_over

if TYPE_CHECKING:
    from .transport import HttpTransport

log = logging.getLogger("rtpgate.http")

#: Largest request line plus headers (Tornado's default too).
MAX_HEAD = 65536
READ_CHUNK = 65536


@dataclass(slots=True)
class _Request:
    url: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    method: str = ""
    version: str = "1.1"
    keep_alive: bool = True

    def header(self, name: bytes) -> str | None:
        """The first header of that (lower-case) name, or ``None``."""
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


    def decoded_headers(self) -> list[tuple[str, str]]:
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self.headers]


def _local_address(stream: IOStream) -> tuple[str, int] | None:
    """The address the connection arrived on (a protocol may treat loopback differently)."""
    try:
        local = stream.socket.getsockname()
    except OSError:
        return None
    return (local[0], local[1]) if isinstance(local, tuple) else None


class _Refuse(Exception):  # noqa: N818 - a control-flow signal out of a parser callback
    """Raised in a parser callback: answer ``reply`` and close the connection."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class HttpConnection:
    """Serves one accepted stream (plain or TLS) until it closes or is handed over."""

    def __init__(self, transport: HttpTransport, stream: IOStream, address: tuple[str, int],
                 scheme: str) -> None:
        self.transport = transport
        self.stream = stream
        self.peer = (address[0], address[1])
        self.local = _local_address(stream)
        self.scheme = scheme
        #: A plain TCP stream (not TLS), whose socket can be written directly.
        self.plain = type(stream) is IOStream
        self.parser = httptools.HttpRequestParser(self)
        self.ready: deque[_Request] = deque()
        self.current = _Request()
        self.head_size = 0
        self.body_size = 0
        self.busy = False
        self.loop = asyncio.get_running_loop()
        self.last_activity = self.loop.time()
        self.idle_handle: asyncio.TimerHandle | None = None
        #: When the head of the request being received must be complete (None: not in a head).
        self.head_deadline: float | None = None

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        self.current = _Request()
        self.head_size = self.body_size = 0
        self.head_deadline = self.loop.time() + self.transport.head_timeout
        if self.idle_handle is not None and self.idle_handle.when() > self.head_deadline:
            self.idle_handle.cancel()
            self._arm_idle_timer()

    def on_url(self, url: bytes) -> None:
        self.current.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.current.headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)

    def _count_head(self, size: int) -> None:
        self.head_size += size
        if self.head_size > MAX_HEAD:
            raise _Refuse(wire.HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self.head_deadline = None
        request = self.current
        request.method = self.parser.get_method().decode("ascii", "replace")
        request.version = self.parser.get_http_version()
        length = request.header(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.transport.max_body:
            raise _Refuse(wire.TOO_LARGE)
        expect = request.header(b"expect")
        if expect is not None and expect.lower() == "100-continue":
            self.stream.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it

    def on_body(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.body_size > self.transport.max_body:  # a chunked body that keeps growing
            raise _Refuse(wire.TOO_LARGE)
        self.current.body.append(chunk)

    def on_message_complete(self) -> None:
        self.current.keep_alive = self.parser.should_keep_alive()
        self.ready.append(self.current)

    # ------------------------------------------------------------------ serving

    async def serve(self) -> None:
        self.stream.set_nodelay(True)
        self._arm_idle_timer()
        handed_over = False
        try:
            while True:
                data = await self.stream.read_bytes(READ_CHUNK, partial=True)
                self.last_activity = self.loop.time()
                finale: Reply | None = None
                upgrading = False
                try:
                    self.parser.feed_data(data)
                except httptools.HttpParserUpgrade:
                    upgrading = True  # what follows the head is not HTTP any more
                except httptools.HttpParserCallbackError as exc:
                    if not isinstance(exc.__context__, _Refuse):
                        raise
                    finale = exc.__context__.reply
                except httptools.HttpParserError:
                    finale = wire.BAD_REQUEST
                keep_open, handed_over = await self._answer_ready()
                if finale is not None and keep_open:
                    await self.stream.write(wire.encode(finale, close=True))
                if finale is not None or upgrading or not keep_open:
                    return
        except StreamClosedError:
            pass
        finally:
            if self.idle_handle is not None:
                self.idle_handle.cancel()
            self.transport.connections.discard(self)
            if not handed_over:
                self.stream.close()

    async def _answer_ready(self) -> tuple[bool, bool]:
        """Answer the complete requests in order.  Returns (keep the connection open,
        the connection was handed over to an upgrade handler)."""
        while self.ready:
            request = self.ready.popleft()
            upgrade_token = request.header(b"upgrade")
            if upgrade_token is not None:
                upgrade = self.transport.runtime.http_upgrades.get(upgrade_token.lower())
                if upgrade is not None:
                    await self._hand_over(upgrade, request)
                    return False, True
            self.busy = True
            try:
                if await self._authorized(request):
                    reply, head_only = await self._reply_to(request)
                    await self._write(wire.encode(reply, request.version, head_only))
                else:
                    await self._write(wire.unauthorized(self.transport.access.challenge(),
                                                        request.version))
            finally:
                self.busy = False
                self.last_activity = self.loop.time()
            if not request.keep_alive:
                return False, False
        return True, False

    async def _write(self, data: bytes) -> None:
        """Write a reply; wait only when the client reads more slowly than we answer.

        On a plain TCP stream with nothing queued, the bytes go straight to the socket: a reply
        usually fits in one ``send``, and the stream's write path costs a future per call.
        A stream Tornado closed (the client went away while the reply was being made, or a
        write failed) raises :class:`StreamClosedError`, which ends the serving; so does a write
        that failed at once (Tornado hands back a future already failed)."""
        if self.stream.closed():
            raise StreamClosedError()
        if self.plain and not self.stream.writing():
            try:
                sent = self.stream.socket.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.stream.close()
                raise StreamClosedError() from None
            if sent == len(data):
                return
            data = data[sent:]
        await self.stream.write(data)

    async def _authorized(self, request: _Request) -> bool:
        """The access policy (:mod:`rtpgate.access`), for every route alike: a request that
        needs credentials and lacks valid ones is answered 401 (CORS preflights pass)."""
        access = self.transport.access
        if not access.enabled or request.method == "OPTIONS":
            return True
        path = request_path(request.url.decode("latin-1"))
        if not access.needs_credentials(self.peer[0], path):
            return True
        if await access.authorized(request.header(b"authorization")):
            return True
        refused(self.transport.runtime.stats.access, self.scheme, "credentials", self.peer[0])
        return False

    async def _reply_to(self, request: _Request) -> tuple[Reply, bool]:
        """The reply to one request, and whether to send its head only (HEAD)."""
        method = request.method
        if method == "OPTIONS":
            return wire.OPTIONS_REPLY, False
        if method not in ("GET", "POST"):
            return wire.NOT_FOUND, method == "HEAD"
        content_type = request.header(b"content-type") if method == "POST" else None
        path = request_path(request.url.decode("latin-1"))
        target = self.transport.router.match(method, path, content_type)
        if target is None:
            return wire.NOT_FOUND, False
        protocol = target[0]
        message = Message(b"".join(request.body), self.scheme, peer=self.peer,
                          local=self.local, content_type=content_type, method=method,
                          path=path, accept=request.header(b"accept"),
                          headers=request.decoded_headers())
        started = time.perf_counter()
        reply: Reply | None
        try:
            reply = await protocol.handle(message)
        except Rejected as rejected:
            reply = Reply(rejected.body, rejected.content_type, rejected.status)
        except Exception:
            log.exception("protocol %s failed on %s %s", protocol.name, method, path)
            reply = wire.INTERNAL_ERROR
        self.transport.runtime.stats.transports.observe(self.scheme, protocol.name,
                                                        time.perf_counter() - started)
        return (wire.NO_REPLY if reply is None else reply), False

    async def _hand_over(self, upgrade: HttpUpgrade, request: _Request) -> None:
        if self.idle_handle is not None:
            self.idle_handle.cancel()
            self.idle_handle = None
        context = RequestContext(self.peer, self.peer[0], self.scheme, self.local)
        start_line = RequestStartLine(request.method, request.url.decode("latin-1"),
                                      f"HTTP/{request.version}")
        await hand_over(upgrade, self.stream, context, start_line, request.headers,
                        b"".join(request.body))

    # ------------------------------------------------------------------ idle timeout

    def _arm_idle_timer(self) -> None:
        when = self.last_activity + self.transport.idle_timeout
        if self.head_deadline is not None and not self.busy:
            when = min(when, self.head_deadline)
        self.idle_handle = self.loop.call_at(when, self._idle_check)

    def _idle_check(self) -> None:
        """Close after ``idle_timeout`` seconds without input while nothing is being answered,
        or when a request head is past its deadline; re-armed for the remaining time otherwise
        (one timer per connection, not per read)."""
        self.idle_handle = None
        if self.stream.closed():
            return
        if (self.head_deadline is not None and not self.busy
                and self.loop.time() >= self.head_deadline - 0.01):
            # an earlier pipelined request being answered does not count against the next head
            log.debug("HTTP %s: request head not complete within %.0f s; closed", self.peer,
                      self.transport.head_timeout)
            self.stream.write(wire.encode(wire.HEAD_TIMEOUT, close=True))
            self.stream.close()
            return
        if not self.busy and self.loop.time() - self.last_activity >= \
                self.transport.idle_timeout - 0.01:
            self.stream.close()
            return
        if self.busy:
            self.last_activity = self.loop.time()
        self._arm_idle_timer()

    def close(self) -> None:
        self.stream.close()
