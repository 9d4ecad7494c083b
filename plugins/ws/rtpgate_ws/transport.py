"""The WebSocket transport: WS and WSS on the HTTP transport's listeners, any path.

It registers an HTTP ``Upgrade: websocket`` handler on the runtime.  The subprotocol is the first
one of the client's ``Sec-WebSocket-Protocol`` list that some protocol declared; a handshake with
none of them is refused with 400.  Each message (text or binary, fragments reassembled by
Tornado up to ``--ws-max-message-size``) goes to that protocol; every reply is written as one
whole binary frame.  Tornado hands a connection its next message only after the previous
``on_message`` finished, so replies on one connection keep the order of the requests.

A protocol may refuse a handshake (``Protocol.ws_handshake``, e.g. ``401`` without a login) and
may send on its own through the connection's :class:`rtpgate.protocol.Channel`
(``Protocol.ws_opened`` / ``ws_closed``).
"""

from __future__ import annotations

import contextlib
import logging
import struct
import time
from asyncio import Future
from collections.abc import Sequence
from typing import Any

from rtpgate.api import (
    BoundAddress,
    Channel,
    ConfigError,
    HttpAccess,
    HttpUpgrade,
    Message,
    Protocol,
    Rejected,
    Runtime,
    SettingsView,
    Transport,
    refused,
)
from tornado import web
from tornado.websocket import (
    WebSocketClosedError,
    WebSocketHandler,
    WebSocketProtocol,
    WebSocketProtocol13,
)

log = logging.getLogger("rtpgate.ws")

#: Close codes a peer may send (RFC 6455 7.4.1 and the IANA registry); 3000-4999 are also valid.
VALID_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                               1014})


def _close_problem(payload: bytes) -> tuple[int, str] | None:
    """What is wrong with a client's close frame (RFC 6455 5.5.1, 7.4), as the code and reason
    to close with; ``None`` when it is valid.  Tornado echoes any code it gets."""
    if len(payload) == 1:
        return 1002, "close frame with a one-byte payload"
    if len(payload) >= 2:
        code = struct.unpack(">H", payload[:2])[0]
        if not (code in VALID_CLOSE_CODES or 3000 <= code <= 4999):
            return 1002, "invalid close code"
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            return 1007, "close reason is not UTF-8"
    return None


class _EchoingClose(WebSocketProtocol13):
    """Answers a client's close frame with its code *and* reason, as rtpengine does (Tornado
    echoes the code only); an invalid close frame is answered with 1002 (1007 for a reason that
    is not UTF-8), as RFC 6455 requires (Autobahn cases 7.3.x, 7.5.1, 7.9.x)."""

    def _handle_message(self, opcode: int, data: bytes) -> Future[None] | None:
        if opcode == 0x8:
            problem = _close_problem(data)
            if problem is not None:
                self.client_terminated = True
                self.close(*problem)
                return None
        return super()._handle_message(opcode, data)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if reason is None and self.client_terminated and code == self.close_code:
            reason = self.close_reason
        super().close(code, reason)


class _WsChannel(Channel):
    """What a protocol sees of one connection."""

    def __init__(self, connection: _Connection, peer: tuple[str, int] | None,
                 local: tuple[str, int] | None) -> None:
        self.connection = connection
        self.transport = connection.scheme
        self.peer = peer
        self.local = local
        self._writing: Future[None] | None = None

    def send(self, body: bytes) -> bool:
        if self.closed or (self._writing is not None and not self._writing.done()):
            return False
        try:
            self._writing = self.connection.write_message(body, binary=True)
        except WebSocketClosedError:
            return False
        # a write that fails because the client went away is not an error worth logging
        self._writing.add_done_callback(lambda f: f.cancelled() or f.exception())
        return True

    @property
    def closed(self) -> bool:
        return self.connection.ws_connection is None or self.connection.ws_connection.is_closing()


class _Connection(WebSocketHandler):
    """One WebSocket connection bound to one protocol."""

    transport: WsTransport
    protocol: Protocol
    scheme: str
    channel: _WsChannel | None = None

    def initialize(self, transport: WsTransport) -> None:
        self.transport = transport

    def set_default_headers(self) -> None:
        # rtpengine's handshake reply carries no Server or Date header
        self.clear_header("Server")
        self.clear_header("Date")

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        protocol = super().get_websocket_protocol()
        if type(protocol) is WebSocketProtocol13:
            protocol.__class__ = _EchoingClose  # adds behaviour only, no state
        return protocol

    def check_origin(self, origin: str) -> bool:
        return True  # rtpengine does not check Origin; access control is the network's job

    async def get(self, *args: Any, **kwargs: Any) -> None:
        offered = [p.strip() for p in
                   self.request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        chosen = next((p for p in offered if p in self.transport.by_subprotocol), None)
        if chosen is None:
            self.clear()
            self.set_status(400)
            self.set_header("Content-Type", "text/plain")
            self.finish(f"no supported WebSocket subprotocol offered (supported: "
                        f"{', '.join(sorted(self.transport.by_subprotocol)) or 'none'})\n")
            return
        self.protocol = self.transport.by_subprotocol[chosen]
        self.scheme = "wss" if self.request.protocol == "https" else "ws"
        access = self.transport.access
        peer = self.request.remote_ip or ""
        if access.needs_credentials(peer, chosen) and not await access.authorized(
                self.request.headers.get("Authorization")):
            refused(self.transport.stats_access, self.scheme, "credentials", peer)
            self.clear()
            self.set_status(401)
            self.set_header("Content-Type", "text/plain")
            self.set_header("WWW-Authenticate", access.challenge())
            self.finish("unauthorized\n")
            return
        handshake = Message(b"", self.scheme, peer=self._peer(), local=self._local(),
                            method="GET", path=self.request.path,
                            headers=list(self.request.headers.get_all()))
        refusal = self.protocol.ws_handshake(handshake)
        if refusal is not None:
            self.clear()
            self.set_status(refusal.status)
            if refusal.content_type:
                self.set_header("Content-Type", refusal.content_type)
            for name, value in refusal.headers:
                self.add_header(name, value)
            self.finish(refusal.body)
            return
        await super().get(*args, **kwargs)

    def _peer(self) -> tuple[str, int] | None:
        peer = self.request.connection.context.address  # type: ignore[union-attr]
        return peer if isinstance(peer, tuple) else None

    def _local(self) -> tuple[str, int] | None:
        local = getattr(self.request.connection.context, "local", None)  # type: ignore[union-attr]
        return local if isinstance(local, tuple) else None

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        return self.protocol.ws_subprotocol

    def open(self, *args: str, **kwargs: str) -> None:
        self.transport.connections.add(self)
        self.transport.stats.ws_opened(self.scheme, self.protocol.name)
        self.channel = _WsChannel(self, self._peer(), self._local())
        try:
            self.protocol.ws_opened(self.channel)
        except Exception:
            log.exception("protocol %s failed on a new WebSocket connection", self.protocol.name)

    def on_close(self) -> None:
        if self in self.transport.connections:
            self.transport.connections.discard(self)
            self.transport.stats.ws_opened(self.scheme, self.protocol.name, -1)
        if self.channel is not None:
            channel, self.channel = self.channel, None
            try:
                self.protocol.ws_closed(channel)
            except Exception:
                log.exception("protocol %s failed on a closed WebSocket connection",
                              self.protocol.name)

    async def on_message(self, message: str | bytes) -> None:
        body = message.encode() if isinstance(message, str) else message
        request = Message(body, self.scheme, peer=self._peer(), local=self._local(),
                          channel=self.channel)
        started = time.perf_counter()
        try:
            reply = await self.protocol.handle(request)
        except Rejected:
            reply = None  # framing errors get no reply on message transports (as rtpengine)
        except Exception:
            log.exception("protocol %s failed on a WebSocket message", self.protocol.name)
            reply = None
        self.transport.stats.observe(self.scheme, self.protocol.name,
                                     time.perf_counter() - started)
        if reply is None:
            return
        with contextlib.suppress(WebSocketClosedError):
            await self.write_message(reply.body, binary=True)


def _no_access_log(handler: web.RequestHandler) -> None:
    """Tornado's per-request log line, left out (see ``log_function`` below)."""


class WsSettings(SettingsView):
    ws_max_message_size: int


class WsTransport(Transport):
    """Serves every protocol that declares a WebSocket subprotocol."""

    name = "ws"

    def setup(self, runtime: Runtime, protocols: Sequence[Protocol]) -> None:
        settings = runtime.settings.view(WsSettings)
        self.stats = runtime.stats.transports
        self.stats_access = runtime.stats.access
        try:  # the same policy as the HTTP transport's, applied at the handshake
            self.access = HttpAccess(runtime.settings, runtime.stats.access)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.by_subprotocol = {p.ws_subprotocol: p for p in protocols if p.ws_subprotocol}
        self.connections: set[_Connection] = set()
        self.app = web.Application([(r".*", _Connection, {"transport": self})],
                                   websocket_max_message_size=settings.ws_max_message_size,
                                   websocket_ping_interval=None,
                                   # Tornado logs every refused handshake (4xx) as a warning:
                                   # a log line per hostile request; the transport counts them
                                   log_function=_no_access_log)
        runtime.register_http_upgrade(HttpUpgrade("websocket", self.app.start_request,
                                                  owner=self.name))

    async def start(self) -> list[BoundAddress]:
        return []  # rides on the HTTP(S) listeners

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.close(1001, "server shutting down")
        self.connections.clear()
