"""Whether the dashboard may show a connection its data.

The login itself is rtpgate's access control (``docs/access-control.md``): with
``--http-auth-token`` or ``--http-auth-basic-file`` the HTTP and WebSocket transports refuse,
with ``401``, every request and handshake without valid credentials before the dashboard sees
it (HTTP basic over HTTPS or a bearer token), and ``--https-client-ca`` refuses HTTPS clients
without a certificate at the TLS handshake.  Those transports trust peers on loopback unless
``--http-auth-loopback``.

What the dashboard adds is its rule that call data never goes to another host without a login:
rtpgate's access control is off by default (rtpengine compatibility), so a connection from a
peer that is not on loopback reaches the dashboard without anyone having checked it.  The
dashboard refuses such a connection (``401``, page and WebSocket alike) unless a login is
configured that covers it: credentials not exempted for the page or the subprotocol
(``--http-auth-exempt``), or client certificates on an HTTPS/WSS connection.
"""

from __future__ import annotations

from rtpgate.api import AccessSettings, Message, Reply, is_loopback

REFUSAL = Reply(b"login required: the dashboard shows other hosts its data only with "
                b"--http-auth-token, --http-auth-basic-file or, over HTTPS, --https-client-ca "
                b"(docs/access-control.md)\n", "text/plain", 401)


def _exempt(route: str, exempt: list[str]) -> bool:
    """rtpgate.access's rule: an exact route, or a path prefix."""
    return any(route == e or (e.startswith("/") and route.startswith(e)) for e in exempt)


class Access:
    """The decision for one server, from its access-control settings."""

    def __init__(self, settings: AccessSettings, path: str, subprotocol: str) -> None:
        credentials = bool(settings.http_auth_token or settings.http_auth_basic_file)
        exempt = list(settings.http_auth_exempt)
        #: Whether the transports demand credentials for the page / the subprotocol.
        self.page_login = credentials and not _exempt(path, exempt)
        self.ws_login = credentials and not _exempt(subprotocol, exempt)
        self.client_ca = bool(settings.https_client_ca)

    @property
    def configured(self) -> bool:
        return self.page_login or self.ws_login or self.client_ca

    def allowed(self, message: Message, websocket: bool = False) -> bool:
        """Whether ``message`` (a page request, or with ``websocket`` a handshake) may see
        data: from loopback, or past a login the transports enforce."""
        if message.peer is not None and is_loopback(message.peer[0]):
            return True
        if self.ws_login if websocket else self.page_login:
            return True
        return self.client_ca and message.transport in ("https", "wss")
