"""The two contracts: a Protocol is a transport-free service, a Transport carries messages.

A protocol never imports Tornado or touches a socket.  It declares *where* it wants to be reachable
(HTTP routes, a WebSocket subprotocol, raw listeners) and handles one message at a time:
``bytes in -> Reply | None``.  It can be tested by calling :meth:`Protocol.handle`.

A transport maps those declarations onto the network.  It knows no protocol by name: the HTTP
transport routes by the declared method, path and content type; the WebSocket transport picks by
``Sec-WebSocket-Protocol``; the raw-socket transport binds the addresses found in the settings
field a listener names.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from tornado.httputil import HTTPMessageDelegate

    from .runtime import Runtime


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """An HTTP address of a protocol.

    ``path`` is matched exactly (case-sensitive, query string ignored), or as a prefix when
    ``prefix`` is true.  ``content_types`` lists the request content types accepted (compared
    case-insensitively against the whole header value, as rtpengine does); empty means the route
    takes no body and ignores the header.
    """

    method: Literal["GET", "POST"]
    path: str
    prefix: bool = False
    content_types: tuple[str, ...] = ()

    def describe(self) -> str:
        suffix = "*" if self.prefix else ""
        ctypes = f" ({', '.join(self.content_types)})" if self.content_types else ""
        return f"{self.method} {self.path}{suffix}{ctypes}"


#: Splits a TCP byte stream into messages.  Gets the buffered bytes; returns the complete
#: messages found at the front and how many bytes they used (0 when none is complete yet).
StreamFramer = Callable[[bytes], tuple[list[bytes], int]]


@dataclass(frozen=True, slots=True)
class DatagramListener:
    """A UDP listener: every datagram is one message, a reply goes back to the sender."""

    option: str  #: settings field with the addresses, e.g. ``listen_ng``
    max_datagram: int = 65535

    def describe(self) -> str:
        return f"UDP --{self.option.replace('_', '-')}"


@dataclass(frozen=True, slots=True)
class StreamListener:
    """A TCP listener whose byte stream is cut into messages by ``framer``."""

    option: str  #: settings field with the addresses, e.g. ``listen_cli``
    framer: StreamFramer
    #: Close the connection once the first reply is written (rtpengine's CLI port does this).
    close_after_reply: bool = False
    #: Incomplete data allowed in the buffer before the connection is closed.
    max_buffer: int = 65536

    def describe(self) -> str:
        return f"TCP --{self.option.replace('_', '-')}"


Listener = DatagramListener | StreamListener


@dataclass(slots=True)
class Message:
    """One message as a transport delivers it to a protocol."""

    body: bytes
    #: ``http``, ``https``, ``ws``, ``wss``, ``udp``, ``tcp``.
    transport: str
    #: The sender's ``(host, port)``; ``None`` where the transport cannot tell.
    peer: tuple[str, int] | None = None
    #: The local ``(host, port)`` the message arrived on.
    local: tuple[str, int] | None = None
    #: HTTP only: the request content type as sent, the method and the decoded path.
    content_type: str | None = None
    method: str = ""
    path: str = ""
    #: HTTP only: the request's ``Accept`` header, for protocols that negotiate a format.
    accept: str | None = None
    #: HTTP: the request's headers; WebSocket: the handshake's.  ``(name, value)`` as sent.
    headers: Sequence[tuple[str, str]] = ()
    #: WebSocket only: the connection the message arrived on, for protocols that also send
    #: on their own (see :meth:`Protocol.ws_opened`).
    channel: Channel | None = None

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (any case), or ``None``."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


@dataclass(slots=True)
class Reply:
    """A protocol's answer.  Message transports (WS, UDP, TCP) use only ``body``."""

    body: bytes
    content_type: str | None = "text/plain"
    status: int = 200
    #: HTTP only: more headers (``WWW-Authenticate``, ``Cache-Control`` ...), written after
    #: the ones every reply has.
    headers: tuple[tuple[str, str], ...] = ()


class Channel(abc.ABC):
    """An open WebSocket or TCP connection as a protocol sees it: the protocol may send on it
    at any time, not only in reply to a message (a live view pushing updates, ng
    notifications to TCP clients)."""

    #: ``ws``, ``wss`` or ``tcp``.
    transport: str
    peer: tuple[str, int] | None
    local: tuple[str, int] | None

    @abc.abstractmethod
    def send(self, body: bytes) -> bool:
        """Queue ``body`` as one whole binary message (TCP: those bytes, the protocol frames
        them).  Returns False, sending nothing, when the connection is closed or the client has
        not yet taken what was sent before (a slow reader gets fewer updates, never an
        unbounded queue)."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether the connection has closed."""


class Rejected(Exception):  # noqa: N818 - it is an outcome, not a bug
    """The message is refused at the framing level.

    Request/response transports (HTTP) answer with ``status`` and ``body``; message transports
    (WS, UDP, TCP) send nothing, which is what rtpengine does for, e.g., an ng message without a
    cookie (HTTP 600 ``error``; no reply on WS and UDP).
    """

    def __init__(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        super().__init__(f"{status} {body!r}")
        self.status = status
        self.body = body
        self.content_type = content_type


class Protocol(abc.ABC):
    """A service reachable through transports.  Subclass it and return instances from the
    ``rtpgate_protocols`` hook."""

    #: Short unique name (``echo``, ``ng``); shown by ``rtpgate plugins`` and used in metrics.
    name: ClassVar[str]
    http_routes: Sequence[HttpRoute] = ()
    ws_subprotocol: str | None = None
    listeners: Sequence[Listener] = ()

    @abc.abstractmethod
    async def handle(self, message: Message) -> Reply | None:
        """Handle one message; ``None`` means no reply.  May raise :class:`Rejected`."""

    def ws_handshake(self, request: Message) -> Reply | None:
        """A WebSocket handshake chose this protocol's subprotocol: ``None`` accepts it, a
        :class:`Reply` refuses it with that HTTP answer (e.g. ``401``).  ``request`` has the
        handshake's path, headers, peer and local address, and no body."""
        return None

    def ws_opened(self, channel: Channel) -> None:  # noqa: B027 - optional
        """A WebSocket connection to this protocol is open; ``channel`` stays valid (and is
        the ``channel`` of its messages) until :meth:`ws_closed`."""

    def ws_closed(self, channel: Channel) -> None:  # noqa: B027 - optional
        """That connection has closed."""

    def stream_opened(self, channel: Channel) -> None:  # noqa: B027 - optional
        """A TCP connection to one of this protocol's stream listeners is open; the protocol
        may send on ``channel`` until :meth:`stream_closed`."""

    def stream_closed(self, channel: Channel) -> None:  # noqa: B027 - optional
        """That connection has closed."""

    def describe(self) -> list[str]:
        """What this protocol asks the transports for, one line each."""
        lines = [route.describe() for route in self.http_routes]
        if self.ws_subprotocol:
            lines.append(f"WebSocket {self.ws_subprotocol}")
        lines.extend(listener.describe() for listener in self.listeners)
        return lines


@dataclass(slots=True)
class BoundAddress:
    """A socket a transport has bound, as reported in the log and the ready file."""

    kind: str  #: e.g. ``http``, ``https``, ``ng-udp``
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind} {host}:{self.port}"


class Transport(abc.ABC):
    """Carries messages between the network and protocols.  Return instances from the
    ``rtpgate_transports`` hook.

    Lifecycle: :meth:`setup` for every transport first (so transports can find each other's
    extension points on the runtime, e.g. HTTP upgrades), then :meth:`start`, and :meth:`stop`
    at shutdown.
    """

    name: ClassVar[str]
    #: Settings fields holding this transport's own listen addresses (for ``rtpgate plugins``).
    listen_options: ClassVar[Sequence[str]] = ()
    #: The protocol listener kinds (:class:`DatagramListener`, :class:`StreamListener`) this
    #: transport binds; the server warns about a configured listener that no transport binds.
    listener_types: ClassVar[tuple[type, ...]] = ()

    def setup(self, runtime: Runtime, protocols: Sequence[Protocol]) -> None:  # noqa: B027
        """Pick what concerns this transport among ``protocols``.  No I/O here."""

    @abc.abstractmethod
    async def start(self) -> list[BoundAddress]:
        """Bind and start serving; return what was bound.  Raise to abort startup."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Stop accepting, close what is open."""


@dataclass(slots=True)
class HttpUpgrade:
    """An HTTP/1.1 ``Upgrade`` handler registered on the runtime by a transport during
    :meth:`Transport.setup`.  The HTTP transport hands a request whose ``Upgrade`` header
    matches ``token`` (case-insensitive) to ``start_request``, which has Tornado's
    ``HTTPServerConnectionDelegate.start_request`` signature."""

    token: str
    start_request: Callable[[Any, Any], HTTPMessageDelegate]
    owner: str = field(default="")
