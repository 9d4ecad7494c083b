"""The media pipeline of one relay stream: what runs on a packet between receive and send.

A datagram read on a stream's socket is told apart by its first byte (RFC 7983, see
:mod:`rtpgate.media.packet`):

* ``0-3`` STUN: to the stream's :attr:`Handlers.stun` (a full ICE agent plugs in here), or, when
  none is set, to the built-in ICE-lite responder (:mod:`rtpgate.media.ice`);
* ``20-63`` DTLS: to the stream's :attr:`Handlers.dtls` (the DTLS-SRTP handshake), else dropped
  and counted as malformed;
* ``128-191`` RTP/RTCP: through the receiving stream's **ingress** stages, the media control
  (block/silence/DTMF), then the sending stream's **egress** stages, and out of the sending
  stream's socket.

Stages, in the order they run for RTP (and RTCP, each stage decides for itself)::

    received on A ── A.pipeline.ingress ─▶ media control ─▶ B.pipeline.egress ── sent to B
                     (decrypt SRTP;                        (encrypt SRTP for B)
                      later: decode,
                      DTMF, player ...)

A stream whose :attr:`RelayStream.pipeline` is ``None`` (no stage and no handler: a plain call)
keeps the fast path: one attribute test per packet more than before this module existed.

Writing a stage: any object with a ``name`` and the two methods of :class:`Stage`.  ``rtp`` and
``rtcp`` get the whole datagram and return the datagram to pass on (the same object when
unchanged) or ``None`` to drop it.  A stage that drops a packet because it is bad (failed
authentication, a replay) counts it itself (its counters live in the engine's call model, where
``query``, the CLI and ``/metrics`` read them) and sets :attr:`Stage.error` so the relay also
counts the packet as an ingress error of the stream; a stage that drops on purpose (a player that
replaces media) leaves it false.  Stages run on the event loop and must not block.

A stage whose only work is to copy each packet it sees into a pcap-style recording may also
have a ``capture`` attribute: a stream view of a :class:`rtpgate.media.native.Capture`
(:func:`rtpgate.media.native.capture`, ``None`` without the C extension).  When it is the last
ingress stage and every stage before it is SRTP done by libsrtp, the native read loop does not
call it for the RTP it relays itself: it appends the packet (decrypted, with its real source) to
the capture, as the stage does on the Python path through the same view (``add``), so both paths
fill one buffer in the order the packets came.  Its owner empties it with ``take()``.  A stage
without ``capture`` (or with ``None``) keeps its stream on the Python path.

Writing a handler (:class:`DatagramHandler`): ``datagram(stream, data, source)`` gets every
STUN or DTLS datagram that arrives on any of the stream's sockets, with the source address; it
answers through ``stream.send_to(data, address)`` (counted as egress of the stream) and changes
the stream through its engine API (``stream.learn_endpoint(address, confirmed)`` when ICE chose
a pair; ``stream.set_pipeline`` when DTLS produced keys).  The DTLS handler of a stream is
created by the engine side that negotiated DTLS and given to the relay with
:meth:`Pipeline.with_handlers`.

The engine builds each stream's :class:`Pipeline` from the call model on every
:meth:`rtpgate.engine.callrelay.CallRelay.sync` (a stage whose parameters did not change is kept, so
its state, e.g. an SRTP replay window and rollover counter, survives re-INVITEs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .stream import Address, RelayStream


class Stage(Protocol):
    """One step of the per-stream RTP/RTCP pipeline (decrypt, transcode, encrypt, ...)."""

    #: Short name for logs and drop counters (``"srtp-decrypt"``).
    name: str
    #: The last ``None`` this stage returned was for a bad packet (counted as a stream error).
    error: bool

    def rtp(self, data: bytes) -> bytes | None:
        """The RTP datagram to pass on, or ``None`` to drop it."""
        ...

    def rtcp(self, data: bytes) -> bytes | None:
        """The RTCP datagram to pass on, or ``None`` to drop it."""
        ...


class DatagramHandler(Protocol):
    """Gets the STUN or DTLS datagrams of one stream (an ICE agent, a DTLS handshake)."""

    def datagram(self, stream: RelayStream, data: bytes, source: Address) -> None:
        ...


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The stages and handlers of one relay stream.  Immutable: the engine replaces it."""

    #: Run on RTP/RTCP received on this stream, in order (decrypt first).
    ingress: tuple[Stage, ...] = ()
    #: Run on RTP/RTCP about to be sent from this stream to its party, in order (encrypt last).
    egress: tuple[Stage, ...] = ()
    #: STUN (first byte 0-3); ``None``: the built-in ICE-lite responder, if ICE is on.
    stun: DatagramHandler | None = None
    #: DTLS (first byte 20-63); ``None``: dropped as malformed.
    dtls: DatagramHandler | None = None
    #: Free-form state a plug-in wants to keep with the pipeline (by name).
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def empty(self) -> bool:
        return not (self.ingress or self.egress or self.stun or self.dtls)

    def with_handlers(self, *, stun: DatagramHandler | None = None,
                      dtls: DatagramHandler | None = None) -> Pipeline:
        """This pipeline with the given handlers set (the others kept)."""
        return replace(self, stun=stun or self.stun, dtls=dtls or self.dtls)
