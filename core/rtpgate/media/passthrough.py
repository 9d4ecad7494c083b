"""Pass-through of STUN and DTLS: the parties' own ICE and DTLS, end to end through the relay.

With rtpengine's pass-through mode (``ICE=force-relay`` when both parties do ICE) rtpgate runs no
ICE agent and no DTLS endpoint of its own on the stream: its ports are offered to each party as
a relay candidate, and every STUN or DTLS datagram a party sends there is forwarded unchanged to
the other party, as RTP is.  The parties check their candidate pairs and make their DTLS-SRTP
handshake with each other; rtpgate only carries the datagrams (and the SRTP that follows, on the
relay's fast path).

The source of such a datagram is learnt like the source of RTP (rtpengine treats a STUN packet
without an ICE agent as media), so the answer to a party's check goes back to the address the
check came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stream import Address, RelayStream


class PassThrough:
    """A :class:`~rtpgate.media.pipeline.DatagramHandler` that forwards STUN and DTLS to the
    stream's sink unchanged.  Stateless: one instance serves every stream."""

    def datagram(self, stream: RelayStream, data: bytes, source: Address) -> None:
        stream.forward_datagram(data, source)


PASS_THROUGH = PassThrough()
