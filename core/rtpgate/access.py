"""Who may drive the control plane: source allow lists for raw listeners, credentials for HTTP
and WebSocket.  rtpengine has neither (its ng port answers any source).

The transports enforce this policy on every message they carry, before any protocol sees it,
so every route and subprotocol, a third-party plugin's included, is covered without code of its
own:

- **raw listeners** (ng and CLI over UDP and TCP): ``--<listener>-allow=CIDR`` per listener,
  named after the listener option without ``listen-`` (``--listen-ng`` -> ``--ng-allow``,
  ``--listen-tcp-ng`` -> ``--tcp-ng-allow``, ``--listen-cli`` -> ``--cli-allow``), else
  ``--control-allow`` for every raw listener.  A refused datagram gets no reply, a refused TCP
  connection is closed at once;
- **HTTP and WebSocket**: a bearer token (``--http-auth-token``) or HTTP basic credentials from
  a file of scrypt hashes (``--http-auth-basic-file``, lines made by ``rtpgate hash-password``),
  required on every path and subprotocol except those in ``--http-auth-exempt``; refused with
  401.  TLS client certificates (``--https-client-ca``) are checked at the handshake by the
  HTTPS listener.  Peers on loopback are not asked for credentials unless
  ``--http-auth-loopback`` is given.

Every refusal is counted (``runtime.stats.access``, ``rtpgate_access_refused_total`` in
``/metrics``) and logged at most once per source and minute.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import os
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .config import SettingsBase, SettingsView
from .counters import AccessStats
from .loglimit import LogLimiter
from .options import Option

log = logging.getLogger("rtpgate.access")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ACCESS_OPTIONS: tuple[Option, ...] = (
    Option("control-allow", list[str], [],
           "source networks (CIDR) allowed on every UDP/TCP control listener that has no allow "
           "list of its own (--ng-allow, --tcp-ng-allow, --cli-allow); repeat for more; empty: "
           "any source", metavar="CIDR"),
    Option("http-auth-token", list[str], [],
           "bearer token accepted on HTTP(S) and WebSocket requests (Authorization: Bearer "
           "TOKEN); repeat for more", metavar="TOKEN"),
    Option("http-auth-basic-file", str | None, None,
           "HTTP basic credentials: lines of USER:HASH made by `rtpgate hash-password`",
           metavar="FILE"),
    Option("http-auth-exempt", list[str], [],
           "HTTP path prefix or WebSocket subprotocol that needs no credentials (e.g. /ping); "
           "repeat for more", metavar="ROUTE"),
    Option("http-auth-loopback", bool, False,
           "ask peers on loopback for credentials too (by default they are trusted)"),
    Option("https-client-ca", str | None, None,
           "CA certificates (PEM): HTTPS/WSS clients must present a certificate signed by one "
           "of them, checked at the TLS handshake", metavar="FILE"),
)

#: Raw-listener allow-list options declared by the plugins that declare the listeners.
def allow_option(listener_option: str) -> Option:
    """The ``--<name>-allow`` option of the raw listener option ``listen_<name>``."""
    name = listener_option.removeprefix("listen_").replace("_", "-")
    return Option(f"{name}-allow", list[str], [],
                  f"source networks (CIDR) allowed on --{listener_option.replace('_', '-')}; "
                  f"repeat for more; empty: --control-allow", metavar="CIDR")


def allow_field(listener_option: str) -> str:
    return listener_option.removeprefix("listen_") + "_allow"


def parse_networks(values: Iterable[str], option: str) -> list[Network]:
    """CIDRs (or single addresses) to networks; a bad one raises ValueError naming ``option``."""
    networks = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError as exc:
                raise ValueError(f"--{option}: {exc}") from None
    return networks


def is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@dataclass(slots=True)
class SourceFilter:
    """An allow list of source networks; an empty one allows every source."""

    networks: Sequence[Network] = ()

    def allows(self, host: str) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __bool__(self) -> bool:
        return bool(self.networks)


_REFUSALS = LogLimiter(interval=60.0)


def refused(stats: AccessStats, kind: str, reason: str, source: str) -> None:
    """Count a refusal and log it, at most once per source and minute."""
    stats.count(kind, reason)
    _REFUSALS.log(log, logging.WARNING, (source, kind, reason),
                  "%s: refused %s (%s)", kind, source,
                  "source not allowed" if reason == "source" else "no valid credentials")


class AccessSettings(SettingsView):
    """The access options (:data:`ACCESS_OPTIONS`), as the transports read them."""

    control_allow: list[str]
    http_auth_token: list[str]
    http_auth_basic_file: str | None
    http_auth_exempt: list[str]
    http_auth_loopback: bool
    https_client_ca: str | None


def source_filter(settings: SettingsBase, listener_option: str) -> SourceFilter:
    """The allow list of a raw listener: its own option, else ``--control-allow``."""
    own = settings.named(allow_field(listener_option)) or []
    if own:
        return SourceFilter(parse_networks(own, allow_field(listener_option).replace("_", "-")))
    return SourceFilter(parse_networks(settings.view(AccessSettings).control_allow,
                                       "control-allow"))


def warn_if_open(kind: str, host: str, protected: bool) -> None:
    """The startup warning for a control listener reachable from other hosts with no access
    control at all."""
    if protected or is_loopback(host):
        return
    log.warning("%s listener on %s is reachable from the network with no access control "
                "(see docs/access-control.md)", kind, host or "every address")


# ---------------------------------------------------------------------- HTTP credentials

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), the format of ``--http-auth-basic-file``."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: bytes, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password, salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, expected)


def load_basic_file(path: str) -> dict[str, str]:
    """``USER:HASH`` lines (``#`` comments and blank lines skipped)."""
    users = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"--http-auth-basic-file: cannot read {path}: {exc}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not encoded.startswith("scrypt$"):
            raise ValueError(f"--http-auth-basic-file: {path} line {number}: not USER:HASH "
                             f"(make one with `rtpgate hash-password`)")
        users[user] = encoded
    return users


class HttpAccess:
    """The credentials policy of the HTTP and WebSocket transports."""

    #: Authorization header values already verified (scrypt costs tens of milliseconds and
    #: runs in a thread; a client sends the same header on every request).
    CACHE = 1024

    def __init__(self, settings: SettingsBase, stats: AccessStats) -> None:
        access = settings.view(AccessSettings)
        self.stats = stats
        self.tokens = [t.encode() for t in access.http_auth_token]
        basic_file = access.http_auth_basic_file
        self.users = load_basic_file(basic_file) if basic_file else {}
        self.exempt = tuple(access.http_auth_exempt)
        self.loopback = access.http_auth_loopback
        self._verified: OrderedDict[bytes, None] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return bool(self.tokens or self.users)

    def challenge(self) -> str:
        schemes = (['Bearer realm="rtpgate"'] if self.tokens else []) + \
            (['Basic realm="rtpgate"'] if self.users else [])
        return ", ".join(schemes)

    def needs_credentials(self, peer_host: str, route: str) -> bool:
        """Whether a request from ``peer_host`` for ``route`` (an HTTP path or a WebSocket
        subprotocol) must carry credentials."""
        if not self.enabled:
            return False
        if not self.loopback and is_loopback(peer_host):
            return False
        return not any(route == e or (e.startswith("/") and route.startswith(e))
                       for e in self.exempt)

    async def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries valid credentials."""
        if not header:
            return False
        raw = header.encode("latin-1", "replace")
        if raw in self._verified:
            self._verified.move_to_end(raw)
            return True
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        ok = False
        if scheme == "bearer" and self.tokens:
            token = value.encode("latin-1", "replace")
            ok = any(hmac.compare_digest(token, t) for t in self.tokens)
        elif scheme == "basic" and self.users:
            try:
                user, _, password = base64.b64decode(value, validate=True).partition(b":")
            except (binascii.Error, ValueError):
                return False
            encoded = self.users.get(user.decode("utf-8", "replace"))
            if encoded is not None:
                loop = asyncio.get_running_loop()
                ok = await loop.run_in_executor(None, verify_password, password, encoded)
        if ok:
            self._verified[raw] = None
            while len(self._verified) > self.CACHE:
                self._verified.popitem(last=False)
        return ok
