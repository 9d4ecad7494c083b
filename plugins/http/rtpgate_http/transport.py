"""The HTTP(S) transport: Tornado's HTTP/1.1 server with a lean per-request delegate.

It does not use ``tornado.web``: a request is matched by :class:`~rtpgate_http.router.Router`,
its body collected, the protocol called, and the reply written with exactly the headers rtpengine
sends (``Content-Type``, ``Content-Length``, the CORS headers).  Requests carrying an
``Upgrade`` header that another transport registered on the runtime (WebSocket) are handed over
whole to that transport's delegate.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import ssl
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any

from rtpgate.config import ConfigError
from rtpgate.netaddr import parse_endpoint
from rtpgate.protocol import BoundAddress, Message, Protocol, Rejected, Reply, Transport
from rtpgate.runtime import Runtime
from tornado import httputil, netutil
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError

from .router import Router, request_path

log = logging.getLogger("rtpgate.http")

CORS = (("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Max-Age", "86400"),
        ("Access-Control-Allow-Methods", "GET, POST"),
        ("Access-Control-Allow-Headers", "Content-Type"))
NOT_FOUND = Reply(b"not found\n", "text/plain", 404)
OPTIONS_REPLY = Reply(b"", None, 200)
#: Keep a reference to running handler tasks so they are not garbage-collected mid-flight.
_TASKS: set[asyncio.Task[None]] = set()


def start_task(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``coro`` as a task.  On Python 3.12+ the task starts eagerly: it runs at once, up to
    its first suspension, so a handler that answers without waiting (``/ping``) is answered in
    this loop iteration instead of a later one.  It is still a real task (``current_task()``,
    ``asyncio.timeout()`` and cancellation behave as usual)."""
    if sys.version_info >= (3, 12):
        return asyncio.Task(coro, loop=asyncio.get_running_loop(),
                            eager_start=True)  # type: ignore[call-arg,unused-ignore]
    return asyncio.ensure_future(coro)


def _reason(status: int) -> str:
    return http.client.responses.get(status, "")


def write_reply(conn: httputil.HTTPConnection, reply: Reply, head_only: bool = False) -> None:
    headers = httputil.HTTPHeaders()
    if reply.content_type:
        headers["Content-Type"] = reply.content_type
    headers["Content-Length"] = str(len(reply.body))
    for name, value in CORS:
        headers[name] = value
    start = httputil.ResponseStartLine("HTTP/1.1", reply.status, _reason(reply.status))
    conn.write_headers(start, headers, None if head_only or not reply.body else reply.body)
    conn.finish()


class _Exchange(httputil.HTTPMessageDelegate):
    """One request on one connection."""

    __slots__ = ("_body", "_conn", "_forward", "_head_only", "_message", "_protocol", "_reply",
                 "_server_conn", "_transport")

    def __init__(self, transport: HttpTransport, server_conn: object,
                 conn: httputil.HTTPConnection) -> None:
        self._transport = transport
        self._server_conn = server_conn
        self._conn = conn
        self._forward: httputil.HTTPMessageDelegate | None = None
        self._protocol: Protocol | None = None
        self._message: Message | None = None
        self._reply: Reply | None = None
        self._body: list[bytes] = []
        self._head_only = False

    def headers_received(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                         headers: httputil.HTTPHeaders) -> Any:
        assert isinstance(start_line, httputil.RequestStartLine)
        transport = self._transport
        upgrade = headers.get("Upgrade")
        if upgrade is not None:
            handler = transport.runtime.http_upgrades.get(upgrade.lower())
            if handler is not None:
                forward = handler.start_request(self._server_conn, self._conn)
                self._forward = forward
                return forward.headers_received(start_line, headers)
        method = start_line.method
        if method == "OPTIONS":
            self._reply = OPTIONS_REPLY
            return None
        if method not in ("GET", "POST"):
            self._reply = NOT_FOUND
            self._head_only = method == "HEAD"
            return None
        content_type = headers.get("Content-Type") if method == "POST" else None
        path = request_path(start_line.path)
        target = transport.router.match(method, path, content_type)
        if target is None:
            self._reply = NOT_FOUND
            return None
        length = headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > transport.max_body:
            self._refuse_too_large()
            return None
        self._protocol = target[0]
        context = getattr(self._conn, "context", None)
        peer = getattr(context, "address", None)
        self._message = Message(b"", transport.scheme_of(context), peer=peer if
                                isinstance(peer, tuple) else None, content_type=content_type,
                                method=method, path=path, accept=headers.get("Accept"))
        return None

    def _refuse_too_large(self) -> None:
        """Answer 413 and close this connection without reading the body (others carry on)."""
        body = b"request body too large\n"
        head = [b"HTTP/1.1 413 Payload Too Large", b"Content-Type: text/plain",
                b"Content-Length: %d" % len(body), b"Connection: close"]
        head += [f"{n}: {v}".encode() for n, v in CORS]
        stream = self._conn.detach()  # type: ignore[attr-defined]
        future = stream.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        future.add_done_callback(lambda _f: stream.close())

    def data_received(self, chunk: bytes) -> Any:
        if self._forward is not None:
            return self._forward.data_received(chunk)
        if self._message is not None:
            self._body.append(chunk)
        return None

    def finish(self) -> None:
        if self._forward is not None:
            self._forward.finish()
            return
        if self._reply is not None:
            write_reply(self._conn, self._reply, self._head_only)
            return
        assert self._protocol is not None and self._message is not None
        self._message.body = b"".join(self._body)
        task = start_task(self._run(self._protocol, self._message))
        if not task.done():
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)

    async def _run(self, protocol: Protocol, message: Message) -> None:
        started = time.perf_counter()
        try:
            reply = await protocol.handle(message)
        except Rejected as rejected:
            reply = Reply(rejected.body, rejected.content_type, rejected.status)
        except Exception:
            log.exception("protocol %s failed on %s %s", protocol.name, message.method,
                          message.path)
            reply = Reply(b"internal error\n", "text/plain", 500)
        if reply is None:
            reply = Reply(b"", None, 200)
        self._transport.runtime.stats.transports.observe(message.transport, protocol.name,
                                                         time.perf_counter() - started)
        with contextlib.suppress(StreamClosedError):
            write_reply(self._conn, reply)

    def on_connection_close(self) -> None:
        if self._forward is not None:
            self._forward.on_connection_close()


class _Connections(httputil.HTTPServerConnectionDelegate):
    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport

    def start_request(self, server_conn: object, request_conn: httputil.HTTPConnection
                      ) -> httputil.HTTPMessageDelegate:
        return _Exchange(self.transport, server_conn, request_conn)


class HttpTransport(Transport):
    """HTTP and HTTPS listeners (any number of each) serving the protocols' HTTP routes."""

    name = "http"
    listen_options = ("listen_http", "listen_https")

    def setup(self, runtime: Runtime, protocols: Sequence[Protocol]) -> None:
        self.runtime = runtime
        settings: Any = runtime.settings
        self.router = Router(protocols)
        self.max_body: int = settings.http_max_body
        self.http_addresses = [parse_endpoint(a) for a in settings.listen_http]
        self.https_addresses = [parse_endpoint(a) for a in settings.listen_https]
        self.ssl_context: ssl.SSLContext | None = None
        if self.https_addresses:
            if not settings.https_cert:
                raise ConfigError("--listen-https: HTTPS/WSS listener requested, "
                                  "but no certificate given (--https-cert)")
            self.ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                self.ssl_context.load_cert_chain(settings.https_cert,
                                                 settings.https_key or settings.https_cert)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"--https-cert/--https-key: cannot load "
                                  f"{settings.https_cert}: {exc}") from exc
        self.idle_timeout = float(settings.http_idle_timeout or 5)
        self._servers: list[HTTPServer] = []

    def scheme_of(self, context: object) -> str:
        return "https" if getattr(context, "protocol", "http") == "https" else "http"

    def _server(self, ssl_options: ssl.SSLContext | None) -> HTTPServer:
        return HTTPServer(_Connections(self), ssl_options=ssl_options,
                          idle_connection_timeout=self.idle_timeout,
                          body_timeout=max(self.idle_timeout, 10.0),
                          max_body_size=self.max_body, decompress_request=False, xheaders=False)

    async def start(self) -> list[BoundAddress]:
        bound: list[BoundAddress] = []
        for kind, addresses, ctx in (("http", self.http_addresses, None),
                                     ("https", self.https_addresses, self.ssl_context)):
            if not addresses:
                continue
            server = self._server(ctx)
            self._servers.append(server)
            for endpoint in addresses:
                sockets = netutil.bind_sockets(endpoint.port, endpoint.host or None,
                                               backlog=1024)
                server.add_sockets(sockets)
                for sock in sockets:
                    host, port = sock.getsockname()[:2]
                    bound.append(BoundAddress(kind, host, port))
        return bound

    async def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for server in self._servers:
            await server.close_all_connections()
        self._servers.clear()
