"""Replies as bytes, exactly as rtpengine writes them: status line, ``Content-Type`` (when there
is one), ``Content-Length``, the four CORS headers, a blank line, the body.  The constant parts
are built once."""

from __future__ import annotations

import functools
import http.client

from rtpgate.api import Reply

CORS = (("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Max-Age", "86400"),
        ("Access-Control-Allow-Methods", "GET, POST"),
        ("Access-Control-Allow-Headers", "Content-Type"))
_CORS_BLOCK = b"".join(f"{name}: {value}\r\n".encode() for name, value in CORS)

NOT_FOUND = Reply(b"not found\n", "text/plain", 404)
OPTIONS_REPLY = Reply(b"", None, 200)
NO_REPLY = Reply(b"", None, 200)
INTERNAL_ERROR = Reply(b"internal error\n", "text/plain", 500)
BAD_REQUEST = Reply(b"bad request\n", "text/plain", 400)
TOO_LARGE = Reply(b"request body too large\n", "text/plain", 413)
HEAD_TOO_LARGE = Reply(b"request header too large\n", "text/plain", 431)
HEAD_TIMEOUT = Reply(b"request header timeout\n", "text/plain", 408)
UNAUTHORIZED_BODY = b"unauthorized\n"


def unauthorized(challenge: str, version: str = "1.1") -> bytes:
    """401 with the ``WWW-Authenticate`` challenge of the configured schemes."""
    head = _head(version, 401, "text/plain") + b"%d\r\n" % len(UNAUTHORIZED_BODY)
    return (head + f"WWW-Authenticate: {challenge}\r\n".encode("latin-1") + _CORS_BLOCK
            + b"\r\n" + UNAUTHORIZED_BODY)


@functools.lru_cache(maxsize=512)
def _head(version: str, status: int, content_type: str | None) -> bytes:
    """Everything before the ``Content-Length`` value.  An unknown status (rtpengine's 600) gets
    an empty reason phrase: ``HTTP/1.1 600 ``."""
    reason = http.client.responses.get(status, "")
    line = f"HTTP/{version} {status} {reason}\r\n"
    if content_type:
        line += f"Content-Type: {content_type}\r\n"
    return line.encode("latin-1") + b"Content-Length: "


def encode(reply: Reply, version: str = "1.1", head_only: bool = False,
           close: bool = False) -> bytes:
    """The reply as written on the wire.  ``version`` echoes the request's (``1.0`` or ``1.1``);
    ``close`` adds ``Connection: close`` (for refusals after which the connection is closed)."""
    head = (_head(version, reply.status, reply.content_type) + b"%d\r\n" % len(reply.body)
            + _CORS_BLOCK)
    if reply.headers:
        head += "".join(f"{name}: {value}\r\n" for name, value in reply.headers).encode(
            "latin-1")
    head += b"Connection: close\r\n\r\n" if close else b"\r\n"
    return head if head_only else head + reply.body
