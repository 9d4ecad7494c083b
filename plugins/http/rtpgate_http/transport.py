"""The HTTP(S) transport: HTTP and HTTPS listeners (any number of each) serving the protocols'
HTTP routes.

Tornado accepts the connections (``TCPServer``, TLS included) and carries the bytes
(``IOStream``); each connection is served by :class:`~rtpgate_http.connection.HttpConnection`,
which parses with httptools and writes rtpengine's exact replies (:mod:`rtpgate_http.wire`).
Tornado's own HTTP/1.1 server is not used for ordinary requests: it cost about ten times more
CPU per request (docs/performance.md).  A request whose ``Upgrade`` header another transport
registered on the runtime (WebSocket) is handed to that transport's Tornado delegate
(:mod:`rtpgate_http.upgrade`).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence

from rtpgate.api import (
    AccessSettings,
    BoundAddress,
    ConfigError,
    Endpoint,
    HttpAccess,
    Protocol,
    Runtime,
    Transport,
    parse_endpoint,
    warn_if_open,
)
from tornado import netutil
from tornado.iostream import IOStream
from tornado.tcpserver import TCPServer

from .connection import HttpConnection
from .router import Router


class HttpSettings(AccessSettings):
    """The options this transport reads (its own, and the access policy's client CA)."""

    listen_http: list[str]
    listen_https: list[str]
    https_cert: str | None
    https_key: str | None
    http_idle_timeout: int
    http_head_timeout: float
    http_max_body: int


def _bind(kind: str, endpoint: Endpoint, reuse_port: bool) -> list[socket.socket]:
    """Tornado's ``bind_sockets``, with errors that name the option and the address as the
    ng and CLI listeners' do (``--listen-http: cannot bind 127.0.0.1:8080: ...``);
    ``reuse_port`` when sibling workers bind the same address."""
    try:
        return netutil.bind_sockets(endpoint.port, endpoint.host or None, backlog=1024,
                                    reuse_port=reuse_port)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"--listen-{kind}: cannot resolve {endpoint}: "
                                 f"{exc.strerror}") from exc
    except OSError as exc:
        raise OSError(exc.errno, f"--listen-{kind}: cannot bind {endpoint}: "
                                 f"{exc.strerror or exc}") from exc


class _Listener(TCPServer):
    """Accepts connections for one scheme and serves each with an :class:`HttpConnection`."""

    def __init__(self, transport: HttpTransport, scheme: str,
                 ssl_context: ssl.SSLContext | None) -> None:
        super().__init__(ssl_options=ssl_context)
        self.transport = transport
        self.scheme = scheme

    async def handle_stream(self, stream: IOStream, address: tuple[str, int]) -> None:
        connection = HttpConnection(self.transport, stream, address, self.scheme)
        self.transport.connections.add(connection)
        await connection.serve()


class HttpTransport(Transport):
    """HTTP and HTTPS listeners (any number of each) serving the protocols' HTTP routes."""

    name = "http"
    listen_options = ("listen_http", "listen_https")

    def setup(self, runtime: Runtime, protocols: Sequence[Protocol]) -> None:
        self.runtime = runtime
        settings = runtime.settings.view(HttpSettings)
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
            client_ca = settings.https_client_ca
            if client_ca:  # refused at the handshake: no certificate, or one of another CA
                try:
                    self.ssl_context.load_verify_locations(cafile=client_ca)
                except (OSError, ssl.SSLError) as exc:
                    raise ConfigError(f"--https-client-ca: cannot load {client_ca}: {exc}"
                                      ) from exc
                self.ssl_context.verify_mode = ssl.CERT_REQUIRED
        try:
            self.access = HttpAccess(runtime.settings, runtime.stats.access)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        #: rtpengine's --http-idle-timeout: 0 means libwebsockets' default, 5 s.
        self.idle_timeout = float(settings.http_idle_timeout or 5)
        self.head_timeout = float(settings.http_head_timeout)
        self.connections: set[HttpConnection] = set()
        self._listeners: list[_Listener] = []

    async def start(self) -> list[BoundAddress]:
        bound: list[BoundAddress] = []
        for kind, addresses, ctx in (("http", self.http_addresses, None),
                                     ("https", self.https_addresses, self.ssl_context)):
            if not addresses:
                continue
            listener = _Listener(self, kind, ctx)
            self._listeners.append(listener)
            for endpoint in addresses:
                sockets = _bind(kind, endpoint, self.runtime.reuse_port)
                listener.add_sockets(sockets)
                for sock in sockets:
                    host, port = sock.getsockname()[:2]
                    bound.append(BoundAddress(kind, host, port))
                    warn_if_open(kind.upper(), host, self.access.enabled or (
                        ctx is not None and ctx.verify_mode == ssl.CERT_REQUIRED))
        return bound

    async def stop(self) -> None:
        for listener in self._listeners:
            listener.stop()
        self._listeners.clear()
        for connection in list(self.connections):
            connection.close()
        self.connections.clear()
