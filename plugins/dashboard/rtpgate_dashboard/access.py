"""Who may see the dashboard.

On a connection that arrived on a loopback address (only this host can reach it) no login is
asked, unless ``--dashboard-login=always``; on any other address the page and the WebSocket need
``--dashboard-token``: as ``Authorization: Bearer TOKEN`` on any transport, or as the password
of HTTP basic (any user name) over HTTPS only, where it does not cross the network in clear.

A browser cannot put an ``Authorization`` header on a WebSocket handshake, so the page it was
given after logging in carries a *ticket*: an expiry time signed with a key this process made at
startup.  The page offers it as a second subprotocol (``ticket.<ticket>``) next to
``dashboard.rtpgate``; the handshake is accepted with a valid ticket or a valid header, and
refused with ``401`` otherwise, so no call data reaches a client that has not logged in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
import time

from rtpgate.protocol import Message, Reply

#: How long a ticket handed out with the page opens WebSocket connections.
TICKET_LIFETIME = 12 * 3600.0
TICKET_PREFIX = "ticket."
REALM = "rtpgate dashboard"


def is_loopback(address: tuple[str, int] | None) -> bool:
    if address is None:
        return False
    try:
        return ipaddress.ip_address(address[0].split("%")[0]).is_loopback
    except ValueError:
        return False


class Access:
    """The login decision for one server.  ``mode``: ``auto`` (login on non-loopback addresses)
    or ``always``."""

    def __init__(self, mode: str, token: str | None) -> None:
        self.mode = mode
        self.token = token or None
        self._key = secrets.token_bytes(32)

    def required(self, message: Message) -> bool:
        return self.mode == "always" or not is_loopback(message.local)

    def allowed(self, message: Message) -> bool:
        """Whether ``message`` (a page request or a WebSocket handshake) may see data."""
        if not self.required(message):
            return True
        return self._credentials(message) or self._has_ticket(message)

    def refusal(self, message: Message) -> Reply:
        """``401``, with the challenge a client on this transport can answer."""
        secure = message.transport in ("https", "wss")
        scheme = f'Basic realm="{REALM}", charset="UTF-8"' if secure else f'Bearer realm="{REALM}"'
        return Reply(b"login required\n", "text/plain", 401, (("WWW-Authenticate", scheme),))

    def ticket(self, now: float | None = None) -> str:
        expiry = str(int((time.time() if now is None else now) + TICKET_LIFETIME))
        return f"{expiry}-{self._sign(expiry)}"

    # ------------------------------------------------------------------ internals

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()[:32]

    def _credentials(self, message: Message) -> bool:
        header = message.header("Authorization")
        if self.token is None or not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode(), self.token.encode())
        if scheme.lower() == "basic" and message.transport in ("https", "wss"):
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            password = decoded.partition(":")[2]
            return hmac.compare_digest(password.encode(), self.token.encode())
        return False

    def _has_ticket(self, message: Message) -> bool:
        offered = message.header("Sec-WebSocket-Protocol") or ""
        for item in offered.split(","):
            item = item.strip()
            if not item.startswith(TICKET_PREFIX):
                continue
            expiry, _, signature = item[len(TICKET_PREFIX):].partition("-")
            if (expiry.isdigit() and int(expiry) > time.time()
                    and hmac.compare_digest(signature, self._sign(expiry))):
                return True
        return False
