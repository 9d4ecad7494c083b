"""Media interfaces: ``--interface=[NAME/]IP[!ADVERTISED]``, repeated.

``any`` (or ``NAME/any``) stands for every address of this host except loopback and IPv6
link-local ones, as in rtpengine (Debian's stock rtpengine.conf says ``interface = any``).  Each
address to bind must be one of this host's (checked at start, so a typo is not reported later as
``Ran out of ports`` on every offer); an address the host does not have can only be advertised,
with rtpengine's ``LOCAL!ADVERTISED`` syntax.

Specs with the same name and address family form one *logical interface* (rtpengine's
``logical_intf``); each of its addresses is a *local address* with its own port pool.  Calls pick
a logical interface by name (``direction``, ``from-interface``, ``to-interface``) and by address
family; an unknown name falls back to the default interface (the one named ``default``, else the
first), with rtpengine's legacy meaning of ``internal`` (IPv4) and ``external`` (IPv6).
"""

from __future__ import annotations

import ipaddress
import random
import socket
import string
from collections.abc import Sequence
from dataclasses import dataclass, field

import ifaddr

from .ports import PortPool
from .sdp import parse_ip


class InterfaceError(ValueError):
    """A malformed ``--interface`` value."""


@dataclass(eq=False)
class LocalAddress:
    """One address of a logical interface, with its port pool."""

    name: str  #: the logical interface's name
    family: str  #: ``IP4`` or ``IP6``
    address: str  #: what sockets bind to
    advertised: str  #: what SDP carries
    pool: PortPool
    #: rtpengine's per-address ICE foundation (random, stable for the process).
    ice_foundation: str
    #: ICE local preference of candidates on this address (rtpengine's ``unique_id``).
    ice_local_pref: int

    @property
    def family_name(self) -> str:
        """``IPv4``/``IPv6``, as ng replies and the CLI spell it."""
        return "IPv4" if self.family == "IP4" else "IPv6"


@dataclass(eq=False)
class LogicalInterface:
    """All addresses given one name, of either family (rtpengine groups ``-i 203.0.113.1
    -i 2001:db8::1`` into one interface ``default``: its ICE candidates cover both)."""

    name: str
    #: The family of its first address (rtpengine's preferred family).
    family: str
    addresses: list[LocalAddress] = field(default_factory=list)

    @property
    def families(self) -> set[str]:
        return {local.family for local in self.addresses}


def parse_spec(spec: str) -> tuple[str, str, str, str]:
    """``[NAME/]IP[!ADVERTISED]`` -> (name, family, address, advertised)."""
    text = spec.strip()
    name = "default"
    if "/" in text:
        name, _, text = text.partition("/")
        if not name:
            raise InterfaceError(f"invalid interface {spec!r}: empty name")
    address, _, advertised = text.partition("!")
    address = address.strip("[]")
    advertised = advertised.strip("[]") or address
    for family in ("IP4", "IP6"):
        canonical = parse_ip(family, address)
        if canonical is not None:
            adv = parse_ip(family, advertised)
            if adv is None:
                raise InterfaceError(f"invalid interface {spec!r}: advertised address "
                                     f"{advertised!r} is not {family}")
            return name, family, canonical, adv
    raise InterfaceError(f"invalid interface {spec!r}: {address!r} is not an IP address")


def host_addresses() -> list[str]:
    """Every address of this host that ``any`` stands for: IPv4 first, no loopback, no IPv6
    link-local (a link-local address needs a scope that SDP cannot carry)."""
    found: dict[str, int] = {}
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            address = ipaddress.ip_address(text)
            if address.is_loopback or address.is_link_local or address.is_unspecified:
                continue
            found.setdefault(str(address), address.version)
    return sorted(found, key=lambda a: found[a])


def expand_any(specs: Sequence[str]) -> list[str]:
    """Replace each ``[NAME/]any`` by one spec per address of :func:`host_addresses`."""
    expanded: list[str] = []
    for spec in specs:
        name, slash, address = spec.strip().rpartition("/")
        if address != "any":
            expanded.append(spec)
            continue
        addresses = host_addresses()
        if not addresses:
            raise InterfaceError(f"invalid interface {spec!r}: this host has no address "
                                 "other than loopback")
        expanded += [f"{name}{slash}{a}" for a in addresses]
    return expanded


def check_bindable(spec: str, family: str, address: str) -> None:
    """Fail unless a socket can be bound to ``address`` (any port)."""
    af = socket.AF_INET if family == "IP4" else socket.AF_INET6
    try:
        with socket.socket(af, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError as exc:
        raise InterfaceError(
            f"invalid interface {spec!r}: cannot bind {address} ({exc.strerror}); an address "
            f"this host does not have can only be advertised: LOCAL-IP!{address}") from None


def _foundation(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))


class Interfaces:
    """Every logical interface, built from the ``interface`` setting."""

    def __init__(self, specs: Sequence[str], port_min: int, port_max: int) -> None:
        if not specs:
            raise InterfaceError("at least one --interface is required")
        rng = random.Random()
        self.logical: list[LogicalInterface] = []
        self.addresses: list[LocalAddress] = []
        by_key: dict[str, LogicalInterface] = {}
        for spec in expand_any(specs):
            name, family, address, advertised = parse_spec(spec)
            check_bindable(spec, family, address)
            logical = by_key.get(name)
            if logical is None:
                logical = by_key[name] = LogicalInterface(name, family)
                self.logical.append(logical)
            # a further address of the interface starts half-way through the range, so a
            # stream's ports on its addresses (its ICE candidates) rarely share a number
            start = port_min + (port_max - port_min) // 2 if logical.addresses else None
            local = LocalAddress(name, family, address, advertised,
                                 PortPool(address, family, port_min, port_max, start),
                                 _foundation(rng), 65535 - len(self.addresses))
            logical.addresses.append(local)
            self.addresses.append(local)
        self._by_key = by_key
        default_name = "default" if any(li.name == "default" for li in self.logical) \
            else self.logical[0].name
        self.default_name = default_name

    def find(self, name: str | None, family: str | None) -> LogicalInterface | None:
        """rtpengine's ``get_logical_interface``: by name (default when None) and family
        (any when None)."""
        wanted = name or self.default_name
        for logical in self.logical:
            if logical.name == wanted and (family is None or family in logical.families):
                return logical
        return None

    def select(self, name: str | None, family: str | None) -> LogicalInterface:
        """Like rtpengine's ``__init_interface``: the named interface in the wanted family,
        else the default one in that family, else the default one in any family."""
        found = self.find(name, family)
        if found is not None:
            return found
        if name == "internal":
            family = "IP4"
        elif name == "external":
            family = "IP6"
        found = self.find(None, family)
        if found is not None:
            return found
        found = self.find(None, None)
        return found if found is not None else self.logical[0]

    def close(self) -> None:
        for local in self.addresses:
            local.pool.close()
