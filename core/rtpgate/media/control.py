"""The media-control commands as the relay applies them to one direction of one stream.

The engine keeps the state that ``block media``, ``silence media`` and ``block DTMF`` set (with
their party selection: the whole call, one monologue with ``directional``, one flow with
``to-tag``) and, whenever it changes, computes for each ingress stream what applies to the
packets it receives and hands the relay a :class:`MediaControl` (or ``None`` when nothing
applies, which keeps the relay on its fast path).  Controls act on RTP only; RTCP is always
forwarded, as rtpengine's codec handlers (where it applies them) see only RTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .packet import SILENCE_BYTE, STATIC_ENCODINGS, silence

#: :attr:`MediaControl.dtmf_replace` for ``DTMF-security=random``.
RANDOM = -1


def encoding_name(rtpmap: str) -> str:
    """``"PCMA/8000"`` or ``"telephone-event/8000/1"`` -> ``"PCMA"`` / ``"TELEPHONE-EVENT"``."""
    return rtpmap.split("/", 1)[0].strip().upper()


@dataclass(frozen=True, slots=True)
class MediaControl:
    """What happens to RTP received on one stream before it is forwarded.

    ``dtmf_payload_types``: the RFC 4733 ``telephone-event`` payload types negotiated for the
    sender, dropped under ``block_dtmf``.  ``silence_fill``: payload type -> fill byte for the
    codecs whose silence is one repeated byte (G.711, L16); under ``silence_media`` other
    payload types are dropped, so no audio gets through, except telephone-events, which only
    ``block_dtmf`` affects.
    """

    block_media: bool = False
    silence_media: bool = False
    block_dtmf: bool = False
    dtmf_payload_types: frozenset[int] = frozenset()
    silence_fill: Mapping[int, int] = field(default_factory=dict)
    #: Under ``block_dtmf``: the event code put into each telephone-event instead of dropping
    #: it (``DTMF-security=zero|DTMF``), :data:`RANDOM` for a pseudo-random one per event
    #: (``random``), ``None`` to drop (``drop``, and ``silence``/``tone``, which need audio
    #: rtpgate does not make on a relayed stream).
    dtmf_replace: int | None = None

    @classmethod
    def for_codecs(cls, codecs: Mapping[int, str], *, block_media: bool = False,
                   silence_media: bool = False, block_dtmf: bool = False,
                   dtmf_replace: int | None = None) -> MediaControl | None:
        """Build from the sender's payload types (``{pt: "PCMU/8000", ...}`` as in its
        ``a=rtpmap`` lines; static types without one may be left out).  ``None`` when nothing
        is to be done."""
        if not (block_media or silence_media or block_dtmf):
            return None
        names = {**STATIC_ENCODINGS, **{pt: encoding_name(m) for pt, m in codecs.items()}}
        dtmf = frozenset(pt for pt, name in names.items() if name == "TELEPHONE-EVENT")
        fill = {pt: SILENCE_BYTE[name] for pt, name in names.items() if name in SILENCE_BYTE}
        return cls(block_media, silence_media, block_dtmf, dtmf, fill, dtmf_replace)

    def apply(self, data: bytes) -> bytes | None:
        """The packet to forward (``data`` itself, or rewritten), or ``None`` to drop it."""
        if self.block_media:
            return None
        pt = data[1] & 0x7F
        if pt in self.dtmf_payload_types:
            if not self.block_dtmf:
                return data
            code = self.dtmf_replace
            if code is None or len(data) < 16 or data[0] & 0x1F:
                return None
            if code == RANDOM:  # the same digit for every packet of one event (its timestamp)
                code = (int.from_bytes(data[4:8], "big") * 2654435761 >> 16) % 16
            return data[:12] + bytes([code]) + data[13:]
        if self.silence_media:
            fill = self.silence_fill.get(pt)
            return None if fill is None else silence(data, fill)
        return data
