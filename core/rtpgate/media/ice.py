"""ICE-lite on the media ports: answering STUN binding requests (RFC 8445 section 7.3, RFC 5389).

Where rtpgate put its own ICE credentials and candidates into an SDP, the peer that got that SDP
runs connectivity checks against the advertised ports.  rtpgate answers them as an ICE-lite agent:
it never sends checks itself, is always the controlled agent, and takes the source of a request
that carries ``USE-CANDIDATE`` (the nominated pair) as the peer's media address.

Short-term credentials: the request's ``USERNAME`` is ``<our ufrag>:<their ufrag>`` and its
``MESSAGE-INTEGRITY`` is keyed with our password (the ``a=ice-ufrag``/``a=ice-pwd`` rtpgate wrote
into the SDP that advertised the port).  The success response carries ``XOR-MAPPED-ADDRESS``,
``MESSAGE-INTEGRITY`` keyed with the same password, and ``FINGERPRINT``.  A request without
credentials gets 400, wrong credentials get 401 (without ``MESSAGE-INTEGRITY``, as RFC 5389
section 10.1.2 says).  Indications (keep-alives) and responses get no answer.

The codec is :mod:`aioice.stun` (parsing checks the ``FINGERPRINT``; integrity is checked with
``Message.check_message_integrity``), not a hand-written one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from aioice import stun


@dataclass(frozen=True, slots=True)
class IceCredentials:
    """Ours, as written into the SDP that advertised the port; ``remote_ufrag`` is the peer's
    ``a=ice-ufrag`` when its SDP had one (then the second half of ``USERNAME`` must match)."""

    ufrag: str
    pwd: str
    remote_ufrag: str | None = None


class StunOutcome(NamedTuple):
    """What a STUN message on a media port led to."""

    #: The datagram to send back to the source, if any.
    reply: bytes | None
    #: A binding request that passed the credential check.
    authenticated: bool
    #: ... and carried ``USE-CANDIDATE``: the source is the peer's chosen media address.
    nominated: bool


IGNORED = StunOutcome(None, False, False)


def _error(request: stun.Message, code: int, reason: str) -> bytes:
    reply = stun.Message(stun.Method.BINDING, stun.Class.ERROR, request.transaction_id,
                         {"ERROR-CODE": (code, reason)})
    reply.add_fingerprint()
    return bytes(reply)


def answer(data: bytes, source: tuple[str, int], creds: IceCredentials) -> StunOutcome:
    """Handle one STUN datagram from ``source`` that arrived on a port with ``creds``.

    Raises ``ValueError`` for a datagram that is not a well-formed STUN message (a wrong
    ``FINGERPRINT`` included)."""
    request = stun.parse_message(data)
    if (request.message_method != stun.Method.BINDING
            or request.message_class != stun.Class.REQUEST):
        return IGNORED
    username = request.attributes.get("USERNAME")
    if username is None or "MESSAGE-INTEGRITY" not in request.attributes:
        return StunOutcome(_error(request, 400, "Bad Request"), False, False)
    local, sep, remote = username.partition(":")
    if (not sep or local != creds.ufrag
            or (creds.remote_ufrag is not None and remote != creds.remote_ufrag)
            or not request.check_message_integrity(creds.pwd.encode())):
        return StunOutcome(_error(request, 401, "Unauthorized"), False, False)
    reply = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, request.transaction_id,
                         {"XOR-MAPPED-ADDRESS": (source[0], source[1])})
    reply.add_message_integrity(creds.pwd.encode())
    return StunOutcome(bytes(reply), True, "USE-CANDIDATE" in request.attributes)
