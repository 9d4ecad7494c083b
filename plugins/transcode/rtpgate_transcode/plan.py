"""What one direction of a media needs, read from the engine's call model.

A party sends the codecs that are both in its own SDP and in the SDP rtpgate gave it
(:func:`accepted`); its peer receives the same of its own.  For each payload type the sender
may use, the direction either passes it on (the peer has the same codec), transcodes it to
the peer's first codec rtpgate can encode, or drops it (a supplemental codec the peer lacks).
RFC 4733 events from a sender whose peer has telephone-event at another clock rate only are
translated to it (timestamp and duration scaled, payload type mapped).
RFC 4733 events from a sender whose peer has no telephone-event become in-band tones, and
digits heard in the audio of a sender without telephone-event become events for a peer that has
it; both need the audio decoded, so it is transcoded (to the same codec when both share it).
Another packetisation time towards the peer (``ptime``/``ptime-reverse``, longer or shorter)
repacketises even a shared codec.
CN from a sender whose peer has no CN becomes comfort noise in the audio; with
``--silence-detect``, silence towards a peer that has CN (and a sender without) becomes CN
packets; both transcode the audio (:mod:`~rtpgate_transcode.cn`).
Nothing to do gives ``None``, so the stream keeps the relay's fast path.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtpgate.api import MF_PTIME_OVERRIDE, MF_TRANSCODING, Codec, Media

from . import formats


@dataclass(frozen=True, slots=True)
class Route:
    """What happens to one input payload type."""

    #: ``pass`` (payload type rewritten if it differs), ``transcode``, ``drop``, ``tone`` (an
    #: RFC 4733 event played in-band), ``event`` (an RFC 4733 event translated to the
    #: receiver's telephone-event at another clock rate), ``cn`` (comfort noise made of a CN
    #: packet)
    action: str
    source: Codec
    target: Codec | None = None


@dataclass(frozen=True, slots=True)
class DirectionPlan:
    routes: dict[int, Route]
    ptime: int  #: output packetisation time (ms)
    #: the receiver's telephone-event, for digits heard in-band (the sender has none)
    dtmf_out: Codec | None = None
    #: encoder options for the receiver's codecs (``codec-set``: ``opus/48000/2/32000``)
    options: tuple[str, ...] = ()
    #: the receiver's CN codecs, when silence is to go out as CN
    cn_out: tuple[Codec, ...] = ()
    #: the sender's packetisation time (ms): the DTX buffer's first step
    in_ptime: int = 20
    #: the call's ``codec-transcode`` specs (codec options of the sender's codecs)
    specs: tuple[str, ...] = ()

    def codec_options(self, codec: Codec) -> str:
        """The codec options (the seventh field: ``AMR/8000/1/12200//mode-set=0,2/CMR-
        interval=500``) of the ``codec-transcode`` spec naming ``codec``; "" without."""
        for spec in self.specs:
            parts = spec.split("/")
            if len(parts) > 6 and parts[0].lower() == codec.name.lower() and parts[1] in (
                    "", *codec.encoding.split("/")[1:2]):
                return parts[6]
        return ""

    def bitrate(self, codec: Codec) -> int | None:
        """The bitrate ``codec-set`` (or a ``codec-transcode`` spec) asks for ``codec``."""
        parts = codec.encoding.lower().split("/")
        channels = parts[2] if len(parts) > 2 else "1"
        for option in self.options:
            spec = option.lower().split("/")
            if (spec[0] == parts[0] and len(spec) > 3 and spec[3].isdigit()
                    and spec[1] in ("", parts[1] if len(parts) > 1 else "")
                    and spec[2] in ("", channels)):
                return int(spec[3])
        return None

    def key(self) -> tuple[object, ...]:
        out = self.dtmf_out
        return (self.ptime, self.in_ptime, self.specs, self.options,
                tuple((c.pt, c.encoding) for c in self.cn_out),
                out.pt if out else -1, tuple(sorted(
            (pt, r.action, r.source.encoding, r.source.fmtp,
             r.target.pt if r.target else -1, r.target.encoding if r.target else "",
             r.target.fmtp if r.target else "") for pt, r in self.routes.items())))


def accepted(media: Media) -> list[Codec]:
    """The party's codecs that rtpgate also put into the SDP it gave the party."""
    given = {c.pt for c in media.codecs}
    return [c for c in media.sent_codecs if c.pt in given]


def _same(a: Codec, b: Codec) -> bool:
    return bool(a.encoding) and a.keys()[2:] == b.keys()[2:]


def _encodable(codec: Codec) -> bool:
    known = formats.find(codec.encoding)
    return known is not None and known.encoder is not None


def spec_ptime(sink: Media, codec: Codec) -> int:
    """The packetisation time (the fifth field: ``PCMU/8000/1//30``) of the receiver's
    ``codec-transcode`` spec naming ``codec``; 0 without one.  rtpengine 10.5 encodes an
    added codec at it where the receiver's SDP has no ``a=ptime`` (checked on packets)."""
    parts = codec.encoding.lower().split("/")
    channels = parts[2] if len(parts) > 2 else "1"
    for option in sink.codec_transcode:
        spec = option.lower().split("/")
        if (spec[0] == parts[0] and len(spec) > 4 and spec[4].isdigit()
                and spec[1] in ("", parts[1] if len(parts) > 1 else "")
                and spec[2] in ("", channels)):
            return int(spec[4])
    return 0


def _event_target(te_received: list[Codec], encodable: list[Codec]) -> Codec:
    """The receiver's telephone-event at the clock rate of the audio it gets, else its
    first."""
    rate = clock(encodable[0]) if encodable else 0
    return next((c for c in te_received if clock(c) == rate), te_received[0])


def clock(codec: Codec) -> int:
    """A codec's RTP clock rate (0 without one)."""
    parts = codec.encoding.split("/")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def plan(source: Media, sink: Media, silence_detect: bool = False) -> DirectionPlan | None:
    """The plan for RTP from ``source``'s party to ``sink``'s, or ``None`` (forward as is).
    ``silence_detect``: the server makes CN of silence (``--silence-detect``)."""
    sends, receives = accepted(source), accepted(sink)
    if not sends or not receives:
        return None
    # another packetisation time towards the receiver, longer or shorter, is made from
    # whatever the sender sends (the chain frames its audio anew); where a ``ptime`` flag
    # changed it, as rtpengine, every packet is framed anew at the receiver's (its SDP's, or
    # the codec's default 20 ms), whatever size the sender's packets are
    override = bool((source.flags | sink.flags) & MF_PTIME_OVERRIDE)
    repacketise = bool(source.ptime and sink.ptime and source.ptime != sink.ptime) or override
    ptime = sink.ptime or (20 if override else source.ptime or 20)
    encodable = [c for c in receives if not c.supplemental and _encodable(c)]
    te_sent = [c for c in sends if c.name == "telephone-event"]
    te_received = [c for c in receives if c.name == "telephone-event"]
    # DTMF between RFC 4733 and in-band needs the audio decoded: transcode it (to the same
    # codec if both have it)
    # (only where the engine reports the media as transcoding: a plain call stays plain)
    converting = bool(source.flags & sink.flags & MF_TRANSCODING)
    tones = converting and bool(te_sent) and not te_received
    detect = converting and bool(te_received) and not te_sent
    # comfort noise (RFC 3389) between a side with CN and one without: CN received becomes
    # noise in the audio, silence becomes CN where the server detects it; both need the audio
    # decoded
    cn_sent = [c for c in sends if c.name == "cn"]
    cn_received = [c for c in receives if c.name == "cn"]
    noise = converting and bool(cn_sent) and not cn_received
    make_cn = converting and silence_detect and bool(cn_received) and not cn_sent
    routes: dict[int, Route] = {}
    work = tones or detect or noise or make_cn
    decode = tones or detect or noise or make_cn
    for codec in sends:
        match = next((c for c in receives if _same(codec, c)), None)
        if codec.name == "telephone-event" and tones:
            routes[codec.pt] = Route("tone", codec)
            continue
        if codec.name == "telephone-event" and match is None and te_received:
            # the receiver has telephone-event at another clock rate only (8000 beside PCMU,
            # 48000 beside an added opus): the events are translated to its clock rate
            routes[codec.pt] = Route("event", codec, _event_target(te_received, encodable))
            work = True
            continue
        if codec.name == "cn" and noise:
            routes[codec.pt] = Route("cn", codec)
            continue
        keep = not (repacketise or decode) or codec.supplemental
        if match is not None and keep:
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
    if not work:
        return None
    if not sink.ptime:  # the receiver named none: a codec-transcode spec's, as rtpengine
        ptime = next((p for r in routes.values() if r.action == "transcode"
                      and r.target is not None and (p := spec_ptime(sink, r.target))), ptime)
    return DirectionPlan(routes, ptime, te_received[0] if detect else None, sink.codec_set,
                         tuple(cn_received) if make_cn else (), source.ptime or 20,
                         tuple(sink.codec_transcode))
