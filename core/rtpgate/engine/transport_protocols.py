"""The transport protocols of an ``m=`` line rtpgate knows, and how one becomes another.

rtpengine's table (``transport_protocols`` in ``daemon/media_socket.c``): plain RTP (``RTP/AVP``,
``RTP/AVPF``), SDES or DTLS SRTP (``RTP/SAVP``, ``RTP/SAVPF``), DTLS-SRTP (``UDP/TLS/RTP/SAVP``,
``UDP/TLS/RTP/SAVPF``), and opportunistic SRTP (RFC 8643): an ``RTP/AVP(F)`` section that carries
``a=crypto`` or ``a=fingerprint`` is SRTP under a plain name.  A media's ``protocol`` in the call
model is the :attr:`TransportProtocol.key` (the name, or ``RTP/AVP (OSRTP)``); what goes on the
wire is :attr:`TransportProtocol.name`.

Conversion between any two of them is the receiving side's protocol (``transport-protocol`` or
what the other side offered) and the crypto each side gets (:mod:`rtpgate.engine.sdes`); the
relay encrypts and decrypts where one side is SRTP and the other not, or where their keys differ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TransportProtocol:
    key: str  #: unique: the name, or ``<name> (OSRTP)``
    name: str  #: as written in ``m=``
    srtp: bool = False
    avpf: bool = False
    osrtp: bool = False
    #: UDP/TLS: DTLS-SRTP is the keying (``a=fingerprint``/``a=setup``)
    dtls: bool = False


_ALL = (
    TransportProtocol("RTP/AVP", "RTP/AVP"),
    TransportProtocol("RTP/AVPF", "RTP/AVPF", avpf=True),
    TransportProtocol("RTP/SAVP", "RTP/SAVP", srtp=True),
    TransportProtocol("RTP/SAVPF", "RTP/SAVPF", srtp=True, avpf=True),
    TransportProtocol("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVP", srtp=True, dtls=True),
    TransportProtocol("UDP/TLS/RTP/SAVPF", "UDP/TLS/RTP/SAVPF", srtp=True, avpf=True, dtls=True),
    TransportProtocol("RTP/AVP (OSRTP)", "RTP/AVP", srtp=True, osrtp=True),
    TransportProtocol("RTP/AVPF (OSRTP)", "RTP/AVPF", srtp=True, avpf=True, osrtp=True),
)
PROTOCOLS: dict[str, TransportProtocol] = {p.key: p for p in _ALL}
#: Names accepted in an ``m=`` line or ``transport-protocol`` (case-insensitive).
_BY_NAME = {p.name.upper(): p for p in _ALL if not p.osrtp}
#: Recognised but not relayed (rtpengine has no TCP media either).
UNSUPPORTED = frozenset({"TCP/TLS/RTP/SAVP", "TCP/TLS/RTP/SAVPF"})


def lookup(name: str) -> TransportProtocol | None:
    """The protocol named ``name`` in an ``m=`` line or ``transport-protocol`` value."""
    return _BY_NAME.get(name.upper())


def get(key: str | None) -> TransportProtocol | None:
    """The protocol of a media's ``protocol`` key."""
    return PROTOCOLS.get(key) if key is not None else None


def wire_name(key: str) -> str:
    """What goes into ``m=`` (and ``query``'s ``protocol``) for a media's protocol key."""
    proto = PROTOCOLS.get(key)
    return proto.name if proto is not None else key


def osrtp(proto: TransportProtocol) -> TransportProtocol:
    """The opportunistic-SRTP variant of a plain RTP protocol (RFC 8643)."""
    return PROTOCOLS[f"{proto.name} (OSRTP)"] if not proto.srtp else proto


def plain(proto: TransportProtocol) -> TransportProtocol:
    """The RTP protocol an SRTP one carries (``RTP/SAVPF`` and ``UDP/TLS/RTP/SAVPF`` ->
    ``RTP/AVPF``): what a legacy OSRTP section beside it offers."""
    return PROTOCOLS["RTP/AVPF" if proto.avpf else "RTP/AVP"]


def is_srtp(key: str | None) -> bool:
    proto = get(key)
    return proto is not None and proto.srtp
