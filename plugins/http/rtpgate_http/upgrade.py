"""Handing a request with an ``Upgrade`` header to the transport that registered it (WebSocket).

Such a transport registered an :class:`rtpgate.protocol.HttpUpgrade` whose ``start_request``
has Tornado's ``HTTPServerConnectionDelegate.start_request`` signature (``tornado.web``'s
``Application`` is one).  :class:`UpgradeConnection` is the ``HTTPConnection`` Tornado's
delegate writes its answer to: it writes straight to the connection's stream and, once the
upgrade is done, gives the stream away (``detach``); an answer that is not ``101`` closes the
connection after it is written.
"""

from __future__ import annotations

from asyncio import Future
from collections.abc import Callable
from dataclasses import dataclass

from rtpgate.api import HttpUpgrade
from tornado import httputil
from tornado.iostream import IOStream


@dataclass(slots=True)
class RequestContext:
    """What ``tornado.httputil.HTTPServerRequest`` reads from ``connection.context``."""

    address: tuple[str, int]
    remote_ip: str
    protocol: str  #: ``http`` or ``https``
    #: The address the connection arrived on (not read by Tornado; for the upgrade handler).
    local: tuple[str, int] | None = None


class UpgradeConnection(httputil.HTTPConnection):
    def __init__(self, stream: IOStream, context: RequestContext) -> None:
        self.stream = stream
        self.context = context
        self._status = 0
        self._detached = False
        self._last_write: Future[None] | None = None

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self.stream.set_close_callback(callback)

    def detach(self) -> IOStream:
        self._detached = True
        self.stream.set_close_callback(None)
        return self.stream

    def write_headers(self, start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
                      headers: httputil.HTTPHeaders, chunk: bytes | None = None
                      ) -> Future[None]:
        assert isinstance(start_line, httputil.ResponseStartLine)
        self._status = start_line.code
        lines = [f"HTTP/1.1 {start_line.code} {start_line.reason}"]
        lines += [f"{name}: {value}" for name, value in headers.get_all()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (chunk or b"")
        return self.write(data)

    def write(self, chunk: bytes) -> Future[None]:
        self._last_write = self.stream.write(chunk)
        return self._last_write

    def finish(self) -> None:
        # A refused handshake: nothing will read this connection again.
        if self._status != 101 and not self._detached:
            if self._last_write is None:
                self.stream.close()
            else:
                self._last_write.add_done_callback(lambda _f: self.stream.close())


async def hand_over(upgrade: HttpUpgrade, stream: IOStream, context: RequestContext,
                    start_line: httputil.RequestStartLine,
                    header_list: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Replay the parsed request to the upgrade handler's Tornado delegate, which from then on
    owns the stream."""
    headers = httputil.HTTPHeaders()
    for name, value in header_list:
        headers.add(name.decode("latin-1"), value.decode("latin-1"))
    delegate = upgrade.start_request(None, UpgradeConnection(stream, context))
    pending = delegate.headers_received(start_line, headers)
    if pending is not None:
        await pending
    if body:
        pending = delegate.data_received(body)
        if pending is not None:
            await pending
    delegate.finish()
