"""Maps (method, path, content type) to a protocol exactly as rtpengine's ``websocket.c`` does:
exact, case-sensitive paths (or declared prefixes), the query string ignored, and the request
content type compared case-insensitively against the whole header value."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote_plus

from rtpgate.api import HttpRoute, Protocol


def request_path(target: str) -> str:
    """The path rtpengine matches: query string dropped, ``%XX`` decoded, ``+`` read as a space
    (libwebsockets decodes the URI before rtpengine sees it)."""
    return unquote_plus(target.partition("?")[0])


_Target = tuple[Protocol, HttpRoute, frozenset[str]]


class Router:
    def __init__(self, protocols: Sequence[Protocol]) -> None:
        self._exact: dict[tuple[str, str], list[_Target]] = {}
        self._prefix: list[tuple[str, str, _Target]] = []
        for protocol in protocols:
            for route in protocol.http_routes:
                target = (protocol, route, frozenset(c.lower() for c in route.content_types))
                if route.prefix:
                    self._prefix.append((route.method, route.path, target))
                else:
                    self._exact.setdefault((route.method, route.path), []).append(target)
        self._prefix.sort(key=lambda item: -len(item[1]))

    def match(self, method: str, path: str, content_type: str | None
              ) -> tuple[Protocol, HttpRoute] | None:
        """The protocol and route for a request, or ``None`` (rtpengine's 404)."""
        candidates = self._exact.get((method, path))
        if candidates is None:
            candidates = [t for m, prefix, t in self._prefix
                          if m == method and path.startswith(prefix)]
        for protocol, route, accepted in candidates:
            if not accepted or (content_type is not None and content_type.lower() in accepted):
                return protocol, route
        return None

    @property
    def empty(self) -> bool:
        return not self._exact and not self._prefix
