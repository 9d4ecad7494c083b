"""The codec list of one media section, and rtpengine's codec manipulations without transcoding.

A media section's codecs come from its ``m=`` format list, the ``a=rtpmap``/``a=fmtp``/
``a=rtcp-fb`` lines, and RFC 3551's static payload types for formats without an ``a=rtpmap``.
rtpengine regenerates these attributes for every codec it passes on, in format-list order:
``rtpmap``, then ``fmtp``, then each ``rtcp-fb``.

The ``codec`` dictionary (and the ``codec-strip-X`` style flags) can strip, mask, re-offer and
protect codecs.  Transcoding is not implemented: asking to transcode to a codec the SDP does not
carry is refused (:class:`TranscodingRequired`) instead of producing an SDP that promises it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import sdp as s

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
    """A codec manipulation would need transcoding, which rtpgate does not do."""

    def __init__(self, codec: str) -> None:
        super().__init__(codec)
        self.codec = codec


class InvalidPayloadType(Exception):  # noqa: N818 - reported as Incomplete SDP
    """A format in the m= line is not a payload type number 0-127."""


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
        return self.encoding.split("/", 1)[0].lower()

    @property
    def supplemental(self) -> bool:
        return self.name in SUPPLEMENTAL

    def keys(self) -> tuple[str, ...]:
        """The names a codec manipulation may use for this codec (case-insensitive): the
        encoding, the rtpmap text, and the rtpmap with the channel count (``PCMU``,
        ``PCMU/8000``, ``PCMU/8000/1``; ``opus``, ``opus/48000/2``)."""
        if not self.encoding:
            return ()
        parts = self.encoding.lower().split("/")
        name, clock = parts[0], parts[1] if len(parts) > 1 else ""
        channels = parts[2] if len(parts) > 2 else "1"
        return (name, "/".join(parts), f"{name}/{clock}/{channels}")

    def matches(self, wanted: str) -> bool:
        return wanted.lower() in self.keys()


@dataclass(slots=True)
class CodecRequest:
    """The codec manipulations of one request (from the ``codec`` dict and the flags)."""

    strip: list[str] = field(default_factory=list)
    offer: list[str] = field(default_factory=list)
    mask: list[str] = field(default_factory=list)
    consume: list[str] = field(default_factory=list)
    transcode: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)

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


def apply(original: list[Codec], request: CodecRequest) -> list[Codec]:
    """The codec list passed on after ``request``; an emptied list falls back to all codecs,
    as rtpengine does."""
    if not request:
        return original
    codecs = _strip(list(original), request.strip, request.except_)
    codecs = _strip(codecs, request.consume, request.except_)
    codecs = _strip(codecs, request.mask, request.except_)
    codecs = _offer(codecs, request.offer, original, must_exist=False)
    codecs = _offer(codecs, request.transcode, original, must_exist=True)
    return codecs or original
