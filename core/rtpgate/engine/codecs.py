"""The codec list of one media section, and rtpengine's codec manipulations without transcoding.

A media section's codecs come from its ``m=`` format list, the ``a=rtpmap``/``a=fmtp``/
``a=rtcp-fb`` lines, and RFC 3551's static payload types for formats without an ``a=rtpmap``.
rtpengine regenerates these attributes for every codec it passes on, in format-list order:
``rtpmap``, then ``fmtp``, then each ``rtcp-fb``.

The ``codec`` dictionary (and the ``codec-strip-X`` style flags) can strip, mask, re-offer and
protect codecs.  ``codec-transcode`` adds a codec the offer does not carry when the media
pipeline can decode and encode it (:class:`~rtpgate.engine.codec_support.CodecSupport`, filled
by a media plugin); with no media plugin such a request is refused (:class:`TranscodingRequired`)
instead of producing an SDP that promises it.  A codec rtpgate cannot handle is left out, as
rtpengine leaves it out.

The answer to the offerer never gains a codec the offerer did not offer (:func:`answer`): a codec
the answerer took from the added ones is answered with the offerer's own preferred codec
(``codec-consume`` ones first, then the first it offered and rtpgate can encode), and the media
pipeline transcodes between the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from . import sdp as s
from .codec_support import CodecSupport

#: RFC 3551 static payload types (rtpengine's ``rfc_rtp_payload_types``).
STATIC_PAYLOAD_TYPES: dict[int, str] = {
    0: "PCMU/8000", 3: "GSM/8000", 4: "G723/8000", 5: "DVI4/8000", 6: "DVI4/16000",
    7: "LPC/8000", 8: "PCMA/8000", 9: "G722/8000", 10: "L16/44100/2", 11: "L16/44100",
    12: "QCELP/8000", 13: "CN/8000", 14: "MPA/90000", 15: "G728/8000", 16: "DVI4/11025",
    17: "DVI4/22050", 18: "G729/8000", 25: "CelB/90000", 26: "JPEG/90000", 28: "nv/90000",
    31: "H261/90000", 32: "MPV/90000", 33: "MP2T/90000", 34: "H263/90000",
}
#: Codecs that accompany a real codec rather than carry media on their own.
SUPPLEMENTAL = frozenset({"telephone-event", "cn"})


class TranscodingRequired(Exception):  # noqa: N818 - an outcome, reported to the client
    """A codec manipulation would need transcoding, and no media plugin can transcode."""

    def __init__(self, codec: str) -> None:
        super().__init__(codec)
        self.codec = codec

    @property
    def reason(self) -> str:
        if self.codec == "always transcode":
            return "Transcoding is not supported (flag 'always transcode'; no media plugin)"
        return f"Transcoding is not supported (codec {self.codec} is not offered)"


class InvalidPayloadType(Exception):  # noqa: N818 - reported as Incomplete SDP
    """A format in the m= line is not a payload type number 0-127."""


#: Names and keys of the encodings seen, by encoding (``PCMU/8000``): a call's negotiation and
#: its transcoding plan ask for them dozens of times, and there are few distinct encodings.
#: Bounded, since the encodings come from the SDP a client sends.
_NAMES: dict[str, str] = {}
_KEYS: dict[str, tuple[str, ...]] = {}
REMEMBERED = 4096


def _keys(encoding: str) -> tuple[str, ...]:
    if not encoding:
        return ()
    parts = encoding.lower().split("/")
    name, clock = parts[0], parts[1] if len(parts) > 1 else ""
    channels = parts[2] if len(parts) > 2 else "1"
    return (name, "/".join(parts), f"{name}/{clock}/{channels}")


@dataclass(slots=True)
class Codec:
    pt: int
    #: ``encoding/clock[/channels]`` as written in the rtpmap (or from the static table);
    #: empty for an unknown payload type without an rtpmap.
    encoding: str
    fmtp: str = ""
    rtcp_fb: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        name = _NAMES.get(self.encoding)
        if name is None:
            name = self.encoding.split("/", 1)[0].lower()
            if len(_NAMES) < REMEMBERED:
                _NAMES[self.encoding] = name
        return name

    @property
    def supplemental(self) -> bool:
        return self.name in SUPPLEMENTAL

    def keys(self) -> tuple[str, ...]:
        """The names a codec manipulation may use for this codec (case-insensitive): the
        encoding, the rtpmap text, and the rtpmap with the channel count (``PCMU``,
        ``PCMU/8000``, ``PCMU/8000/1``; ``opus``, ``opus/48000/2``)."""
        keys = _KEYS.get(self.encoding)
        if keys is None:
            keys = _keys(self.encoding)
            if len(_KEYS) < REMEMBERED:
                _KEYS[self.encoding] = keys
        return keys

    def matches(self, wanted: str) -> bool:
        return wanted.lower() in self.keys()

    @property
    def name_as_written(self) -> str:
        """The encoding name in the case its rtpmap has (``pcmu``, ``PCMU``)."""
        return self.encoding.split("/", 1)[0]


@dataclass(slots=True)
class CodecRequest:
    """The codec manipulations of one request (from the ``codec`` dict and the flags)."""

    strip: list[str] = field(default_factory=list)
    offer: list[str] = field(default_factory=list)
    mask: list[str] = field(default_factory=list)
    consume: list[str] = field(default_factory=list)
    transcode: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)
    #: They change no offer SDP (rtpengine 10.5 neither): ``accept`` codecs are answered to
    #: the offerer whatever the answerer chose (and rtpgate transcodes), ``ignore`` ones are
    #: treated as never offered by the offerer, ``set`` gives the encoder options (bitrate)
    #: of a codec rtpgate transcodes to (see :class:`CodecSpec`).
    accept: list[str] = field(default_factory=list)
    set: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    always_transcode: bool = False
    single_codec: bool = False

    def __bool__(self) -> bool:
        return bool(self.strip or self.offer or self.mask or self.consume or self.transcode)


def from_media(media: s.Media) -> list[Codec]:
    """The codecs of an RTP media section, in format-list order."""
    rtpmap: dict[int, str] = {}
    fmtp: dict[int, str] = {}
    rtcp_fb: dict[int, list[str]] = {}
    for attr in media.attributes:
        kind = attr.kind
        if kind == s.RTPMAP:
            rtpmap.setdefault(attr.pt, attr.param)
        elif kind == s.FMTP:
            fmtp.setdefault(attr.pt, attr.param)
        elif kind == s.RTCP_FB and attr.pt >= 0:
            rtcp_fb.setdefault(attr.pt, []).append(attr.param)
    codecs = []
    for fmt in media.formats:
        if not fmt.isdigit() or int(fmt) > 127:
            raise InvalidPayloadType(fmt)
        pt = int(fmt)
        encoding = rtpmap.get(pt) or STATIC_PAYLOAD_TYPES.get(pt, "")
        codecs.append(Codec(pt, encoding, fmtp.get(pt, ""), rtcp_fb.get(pt, [])))
    return codecs


def _strip(codecs: list[Codec], names: Iterable[str], protect: Sequence[str]) -> list[Codec]:
    for name in names:
        if name.lower() in ("all", "full"):
            codecs = [c for c in codecs if any(c.matches(p) for p in protect)]
        else:
            codecs = [c for c in codecs if not c.matches(name)]
    return codecs


def _insert_position(codecs: list[Codec]) -> int:
    """Re-offered codecs go after the last real codec, before trailing telephone-event/CN."""
    pos = len(codecs)
    while pos > 0 and codecs[pos - 1].supplemental:
        pos -= 1
    return pos


def _offer(codecs: list[Codec], names: Iterable[str], original: Sequence[Codec],
           must_exist: bool) -> list[Codec]:
    for name in names:
        if any(c.matches(name) for c in codecs):
            continue
        found = [c for c in original if c.matches(name)]
        if not found:
            if must_exist:
                raise TranscodingRequired(name)
            continue
        pos = _insert_position(codecs)
        codecs = codecs[:pos] + found + codecs[pos:]
    return codecs


@dataclass(frozen=True, slots=True)
class CodecSpec:
    """A codec as a flag names it: rtpengine's ``name/clock/channels/bitrate/ptime/fmtp``
    (``opus``, ``opus/48000/1``, ``opus/48000/2/32000``, ``opus/48000/2///useinbandfec=1``)."""

    name: str
    clock: int | None = None
    channels: int | None = None
    fmtp: str = ""
    bitrate: int | None = None

    @classmethod
    def parse(cls, text: str) -> CodecSpec:
        parts = text.split("/")

        def number(index: int) -> int | None:
            return int(parts[index]) if len(parts) > index and parts[index].isdigit() else None
        fmtp = parts[5] if len(parts) > 5 else ""
        return cls(parts[0], number(1), number(2), fmtp, number(3))

    def matches(self, encoding: str, channels: int = 1) -> bool:
        """Whether this names ``encoding`` (an rtpmap text) with ``channels`` audio channels:
        the name, and the clock rate and channel count where given."""
        parts = encoding.split("/")
        return (parts[0].lower() == self.name.lower()
                and self.clock in (None, int(parts[1]) if len(parts) > 1 and parts[1].isdigit()
                                   else None)
                and self.channels in (None, channels))


def _free_pt(codecs: Sequence[Codec], encoding: str) -> int | None:
    used = {c.pt for c in codecs}
    for pt, static in STATIC_PAYLOAD_TYPES.items():
        if static.lower() == encoding.lower() and pt not in used:
            return pt
    return next((pt for pt in range(96, 128) if pt not in used), None)


def _transcode(codecs: list[Codec], names: Iterable[str], support: CodecSupport
               ) -> tuple[list[Codec], list[str]]:
    """Add each codec of ``names`` the offer lacks and the pipeline can decode and encode;
    returns the new list and the names left out (unknown to the pipeline, or decode-only).
    A codec with a new clock rate gets a ``telephone-event`` at that rate when the offer has
    one, as rtpengine adds it.  ``CN`` is added last, once per clock rate of the real codecs
    (rtpengine: ``CN/48000`` beside opus, ``CN/8000`` beside PCMA)."""
    left_out = []
    names = list(names)
    cn = [n for n in names if CodecSpec.parse(n).name.lower() == "cn"]
    for name in names:
        if name in cn or any(c.matches(name) for c in codecs):
            continue
        spec = CodecSpec.parse(name)
        cap = support.find(spec.name, spec.clock, spec.channels)
        if cap is None or not (cap.decode and cap.encode):
            left_out.append(name)
            continue
        pt = _free_pt(codecs, cap.encoding)
        if pt is None:
            left_out.append(name)
            continue
        # the name as the flag spells it (``pcma`` gives ``a=rtpmap:8 pcma/8000``, as
        # rtpengine writes it)
        added = [Codec(pt, _spelt(cap.encoding, spec.name), spec.fmtp or cap.fmtp)]
        if cap.name.lower() in SUPPLEMENTAL:
            codecs = codecs + added
            continue
        te = support.find("telephone-event", cap.clock)
        if te is not None and any(c.name == "telephone-event" for c in codecs) and not any(
                c.name == "telephone-event" and c.encoding.split("/")[1:2] == [str(cap.clock)]
                for c in codecs):
            te_pt = _free_pt(codecs + added, te.encoding)
            if te_pt is not None:
                added.append(Codec(te_pt, te.encoding, te.fmtp))
        pos = _insert_position(codecs)
        codecs = codecs[:pos] + added + codecs[pos:]
    for name in cn:
        spec = CodecSpec.parse(name)
        found = False
        for clock in dict.fromkeys(clock_rate(c) for c in codecs if not c.supplemental):
            if spec.clock not in (None, clock) or any(
                    c.name == "cn" and clock_rate(c) == clock for c in codecs):
                found = found or spec.clock == clock
                continue
            cap = support.find("CN", clock)
            pt = _free_pt(codecs, cap.encoding) if cap is not None else None
            if cap is None or pt is None:
                continue
            codecs = [*codecs, Codec(pt, cap.encoding, cap.fmtp)]
            found = True
        if not found and not any(c.name == "cn" for c in codecs):
            left_out.append(name)
    return codecs, left_out


def _spelt(encoding: str, name: str) -> str:
    """``encoding`` with its name written as ``name`` (the same name in another case)."""
    own, sep, rest = encoding.partition("/")
    return (name if name.lower() == own.lower() else own) + sep + rest


def clock_rate(codec: Codec) -> int:
    """The RTP clock rate ``codec``'s encoding names (``name/clock[/channels]``), 0 if none."""
    parts = codec.encoding.split("/")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _transcodable(codecs: list[Codec], support: CodecSupport, consume: bool) -> list[Codec]:
    """Once rtpgate transcodes, every codec it passes on may be sent to it or by it: a real
    codec it cannot both decode and encode goes (rtpengine strips them too); with
    ``codec-consume`` so do telephone-event and CN at a clock rate no real codec has left."""
    real = [c for c in codecs if not c.supplemental and support.can_transcode(c.encoding)]
    clocks = {clock_rate(c) for c in real}
    return [c for c in codecs if c in real or (c.supplemental and (
        not consume or clock_rate(c) in clocks))]


def apply(original: list[Codec], request: CodecRequest, support: CodecSupport | None = None,
          audio: bool = True) -> list[Codec]:
    """The codec list passed on after ``request``; an emptied list falls back to all codecs,
    as rtpengine does.  Raises :class:`TranscodingRequired` for a codec to transcode to when
    there is no media pipeline that could.  Transcoding is for audio: in another media section
    (``audio`` false) a ``transcode`` name only re-offers a codec the section has, and nothing
    is added or stripped for it (rtpengine leaves a video section as it is)."""
    if not request:
        return original
    if not audio:
        support = None
        request = replace(request, transcode=[], consume=[], offer=[
            *request.offer, *request.transcode])
    codecs = _strip(list(original), request.strip, request.except_)
    codecs = _strip(codecs, request.consume, request.except_)
    codecs = _strip(codecs, request.mask, request.except_)
    codecs = _offer(codecs, request.offer, original, must_exist=False)
    if support:
        codecs = _offer(codecs, request.transcode, original, must_exist=False)
        codecs, _ = _transcode(codecs, request.transcode, support)
        known = {c.pt for c in original}
        if request.consume or any(c.pt not in known for c in codecs):
            codecs = _without_orphans(_transcodable(codecs, support, bool(request.consume)),
                                      original)
    else:
        codecs = _offer(codecs, request.transcode, original, must_exist=True)
    return codecs or original


def left_out(original: list[Codec], request: CodecRequest, support: CodecSupport,
             audio: bool = True) -> list[str]:
    """The ``codec-transcode`` names :func:`apply` leaves out (for the log)."""
    return _transcode(list(original), request.transcode, support)[1] \
        if support and audio else []


def offered(original: list[Codec], request: CodecRequest) -> list[Codec]:
    """What the offerer can use once its offer went through ``request``: its codecs without
    the stripped and the ignored ones (masked and consumed ones stay: rtpgate transcodes from
    them; ``codec-ignore`` ones are treated as never offered, rtpengine's newest meaning)."""
    kept = _strip(list(original), request.strip, request.except_) or original
    return _strip(kept, request.ignore, ()) or kept


def _same(a: Codec, b: Codec) -> bool:
    return a.keys()[2:] == b.keys()[2:] and bool(a.encoding)


def answer(answered: list[Codec], offerer: Sequence[Codec], prefer: Sequence[str],
           request: CodecRequest, support: CodecSupport, accept: Sequence[str] = ()
           ) -> list[Codec]:
    """The codecs of the answer to an offerer whose offer got transcoding codecs: each codec
    the answerer chose that the offerer offered is kept (its payload type and format
    parameters as the offerer wrote them, its name as the answerer spells it, as rtpengine
    answers: ``PCMU`` for the offerer's ``pcmu``), one that
    rtpgate added is replaced by the offerer's preferred codec, which rtpgate transcodes
    from and to; supplemental codecs stay when the offerer has them too.  Nothing the offerer
    did not offer is ever answered.  ``prefer`` (``codec-consume`` and ``codec-accept``
    names) are the offerer's preferred targets; an accepted real codec is what the offerer is
    answered whatever the answerer chose, and consumed or accepted telephone-event/CN stay
    in the answer (rtpgate converts them), as rtpengine answers.  telephone-event answered at
    another clock rate (``telephone-event/48000`` beside an added opus) gives the offerer its
    own telephone-event at its codec's rate: rtpgate translates the events between the two.
    """
    target = _target(offerer, prefer, support)
    forced = request.always_transcode or any(
        c.matches(name) for name in accept for c in offerer if not c.supplemental)
    out: list[Codec] = []
    events: list[Codec] = []  # telephone-event at a clock rate the offerer does not have
    for codec in answered:
        mine = next((c for c in offerer if _same(c, codec)), None)
        if mine is not None:  # the name as the answerer spells it, as rtpengine answers
            mine = replace(mine, encoding=_spelt(mine.encoding, codec.name_as_written))
        if codec.supplemental:
            if mine is not None and mine not in out:
                out.append(mine)
            elif mine is None and codec.name == "telephone-event":
                events.append(codec)
            continue
        if forced or mine is None:
            mine = target
        if mine is not None and all(c.pt != mine.pt for c in out):
            out.append(mine)
    if request.always_transcode:
        out += [c for c in offerer if c.supplemental and c not in out]
    real = [c for c in out if not c.supplemental]
    clocks = {clock_rate(c) for c in real}
    kept = [c for c in offerer if c.supplemental and c not in out and clock_rate(c) in clocks
            and (any(c.matches(name) for name in prefer) or _translated(c, events, support))]
    return real + kept + [c for c in out if c.supplemental] if real else out


def _translated(codec: Codec, events: Sequence[Codec], support: CodecSupport) -> bool:
    """Whether the offerer's ``codec`` is a telephone-event the media plugin translates to
    and from one of ``events`` (the answerer's, at other clock rates)."""
    return codec.name == "telephone-event" and support.find(
        "telephone-event", clock_rate(codec)) is not None and any(
        support.find("telephone-event", clock_rate(e)) is not None for e in events)


def _without_orphans(codecs: list[Codec], original: Sequence[Codec]) -> list[Codec]:
    """telephone-event and CN at a clock rate whose real codecs were all taken out (masked,
    stripped, consumed) go once rtpgate transcodes, as rtpengine does: PCMU and
    telephone-event/8000 with PCMU masked and opus added are offered as opus and
    telephone-event/48000 only.  A clock rate that never had a real codec keeps them."""
    had = {clock_rate(c) for c in original if not c.supplemental}
    has = {clock_rate(c) for c in codecs if not c.supplemental}
    return [c for c in codecs if not c.supplemental or clock_rate(c) in has
            or clock_rate(c) not in had]


def differ(answer_codecs: Sequence[Codec], answered: Sequence[Codec]) -> bool:
    """Whether a real codec of one side is missing on the other, or one side has
    telephone-event or CN and the other not (DTMF and comfort noise are converted): media is
    transcoded."""
    def real(codecs: Sequence[Codec]) -> set[tuple[str, ...]]:
        return {c.keys()[2:] for c in codecs if not c.supplemental}

    def has(codecs: Sequence[Codec], name: str) -> bool:
        return any(c.name == name for c in codecs)
    return real(answer_codecs) != real(answered) or any(
        has(answer_codecs, name) != has(answered, name) for name in SUPPLEMENTAL)


def _target(offerer: Sequence[Codec], prefer: Sequence[str], support: CodecSupport
            ) -> Codec | None:
    """The offerer's codec rtpgate transcodes to: a consumed one first, else the first it
    offered that rtpgate can encode (else simply its first)."""
    real = [c for c in offerer if not c.supplemental]
    for name in prefer:
        found = next((c for c in real if c.matches(name)), None)
        if found is not None:
            return found
    encodable = [c for c in real if support.can_transcode(c.encoding)]
    choice = encodable or real
    return choice[0] if choice else None


def single(codecs: list[Codec]) -> list[Codec]:
    """``single codec``: the first real codec and the supplemental ones."""
    first = next((c for c in codecs if not c.supplemental), None)
    return [c for c in codecs if c is first or c.supplemental]
