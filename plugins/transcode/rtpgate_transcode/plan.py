"""What one direction of a media needs, read from the engine's call model.

A party sends the codecs that are both in its own SDP and in the SDP rtpgate gave it
(:func:`accepted`); its peer receives the same of its own.  For each payload type the sender
may use, the direction either passes it on (the peer has the same codec), transcodes it to
the peer's first codec rtpgate can encode, or drops it (a supplemental codec the peer lacks).
A longer packetisation time towards the peer (``ptime``/``ptime-reverse``) repacketises even a
shared codec; a shorter one is not made (a stage gives at most one packet per packet it gets).
Nothing to do gives ``None``, so the stream keeps the relay's fast path.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtpgate.engine import model as m
from rtpgate.engine.codecs import Codec

from . import formats


@dataclass(frozen=True, slots=True)
class Route:
    """What happens to one input payload type."""

    action: str  #: ``pass`` (payload type rewritten if it differs), ``transcode``, ``drop``
    source: Codec
    target: Codec | None = None


@dataclass(frozen=True, slots=True)
class DirectionPlan:
    routes: dict[int, Route]
    ptime: int  #: output packetisation time (ms)

    def key(self) -> tuple[object, ...]:
        return (self.ptime, tuple(sorted(
            (pt, r.action, r.source.encoding, r.source.fmtp,
             r.target.pt if r.target else -1, r.target.encoding if r.target else "",
             r.target.fmtp if r.target else "") for pt, r in self.routes.items())))


def accepted(media: m.Media) -> list[Codec]:
    """The party's codecs that rtpgate also put into the SDP it gave the party."""
    given = {c.pt for c in media.codecs}
    return [c for c in media.sent_codecs if c.pt in given]


def _same(a: Codec, b: Codec) -> bool:
    return bool(a.encoding) and a.keys()[2:] == b.keys()[2:]


def _encodable(codec: Codec) -> bool:
    known = formats.find(codec.encoding)
    return known is not None and known.encoder is not None


def plan(source: m.Media, sink: m.Media) -> DirectionPlan | None:
    """The plan for RTP from ``source``'s party to ``sink``'s, or ``None`` (forward as is)."""
    sends, receives = accepted(source), accepted(sink)
    if not sends or not receives:
        return None
    # a pipeline stage gives one packet per packet, so a shorter ptime than the sender's
    # cannot be made: the sender's is kept then
    repacketise = bool(source.ptime and sink.ptime and source.ptime < sink.ptime)
    ptime = max(sink.ptime, source.ptime) or 20
    encodable = [c for c in receives if not c.supplemental and _encodable(c)]
    routes: dict[int, Route] = {}
    work = False
    for codec in sends:
        match = next((c for c in receives if _same(codec, c)), None)
        if match is not None and not (repacketise and not codec.supplemental):
            routes[codec.pt] = Route("pass", codec, match)
            work = work or match.pt != codec.pt
            continue
        work = True
        if codec.supplemental:
            routes[codec.pt] = Route("drop", codec)
            continue
        decodable = formats.find(codec.encoding)
        target = match if match is not None else (encodable[0] if encodable else None)
        if decodable is None or decodable.decoder is None or target is None:
            routes[codec.pt] = Route("drop", codec)
            continue
        routes[codec.pt] = Route("transcode", codec, target)
    return DirectionPlan(routes, ptime) if work else None
