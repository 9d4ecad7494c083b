"""AMR and AMR-WB in RTP (RFC 4867): between RTP payloads and the frames FFmpeg codes.

FFmpeg's AMR decoders and libopencore's AMR-NB encoder work on frames in the storage format
of RFC 4867 section 5 (a one-byte header ``0 FT Q 0 0``, then the speech bits padded to a whole
byte).  An RTP payload carries a codec mode request (CMR), a table of contents (one entry per
frame: F, FT, Q) and the frames' speech bits, either each field on its own octet boundary
(``octet-align=1``) or all packed bit to bit (bandwidth-efficient, the default).  This module
converts between the two (written here: PyAV has no RTP depacketiser for AMR, and this is bit
arithmetic on Python ints).

Encoder bitrate (as rtpengine chooses it): the highest mode of the ``mode-set`` that is not above
the wanted bitrate (``codec-set`` / ``codec-transcode`` ``AMR/8000/1/7400``, else the default:
6700 for AMR, 14250 for AMR-WB), or the lowest mode above it when the mode set has none below.

Codec mode requests and mode changes: :mod:`~rtpgate_transcode.amr_modes`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Speech bits per frame type (RFC 4867 table 1, 3GPP TS 26.101 / 26.201); the last is SID.
NB_BITS = (95, 103, 118, 134, 148, 159, 204, 244, 39)
WB_BITS = (132, 177, 253, 285, 317, 365, 397, 461, 477, 40)
NB_RATES = (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)
WB_RATES = (6600, 8850, 12650, 14250, 15850, 18250, 19850, 23050, 23850)
NO_DATA = 15
#: CMR value meaning "no mode request".
NO_REQUEST = 15


class MalformedAmr(ValueError):  # noqa: N818 - a drop reason
    """An RTP payload that is not AMR of the negotiated framing."""


@dataclass(frozen=True, slots=True)
class AmrFormat:
    """One AMR flavour as negotiated: wideband or not, and its fmtp parameters."""

    wideband: bool
    octet_aligned: bool = False
    mode_set: tuple[int, ...] = ()
    #: ``mode-change-period``: 2, mode changes only at even frame counts (RFC 4867 8.1)
    mode_change_period: int = 1
    #: ``mode-change-neighbor=1``: mode changes only to a neighbouring mode of the set
    mode_change_neighbor: bool = False

    @classmethod
    def of(cls, wideband: bool, fmtp: str) -> AmrFormat:
        params = {k.strip().lower(): v.strip() for k, _, v in
                  (p.partition("=") for p in fmtp.split(";")) if k.strip()}
        modes = tuple(int(m) for m in params.get("mode-set", "").split(",")
                      if m.strip().isdigit())
        period = params.get("mode-change-period", "1")
        return cls(wideband, params.get("octet-align") == "1", modes,
                   int(period) if period.isdigit() else 1,
                   params.get("mode-change-neighbor") == "1")

    @property
    def bits(self) -> tuple[int, ...]:
        return WB_BITS if self.wideband else NB_BITS

    @property
    def rates(self) -> tuple[int, ...]:
        return WB_RATES if self.wideband else NB_RATES

    def frame_bits(self, ft: int) -> int:
        if ft == NO_DATA:
            return 0
        if ft >= len(self.bits):
            raise MalformedAmr(f"frame type {ft}")
        return self.bits[ft]

    @property
    def sid(self) -> int:
        """The frame type of a SID frame (comfort noise parameters): 8, AMR-WB 9."""
        return len(self.bits) - 1

    def is_sid(self, frame: bytes) -> bool:
        """Whether a storage-format ``frame`` is a SID frame."""
        return bool(frame) and (frame[0] >> 3) & 0x0F == self.sid

    def bitrate(self, wanted: int | None) -> int:
        """The encoder's bitrate for ``wanted`` (None: the default) under the mode set."""
        want = wanted or (14250 if self.wideband else 6700)
        allowed = [self.rates[m] for m in self.mode_set if m < len(self.rates)] or list(
            self.rates)
        below = [r for r in allowed if r <= want]
        return max(below) if below else min(allowed)

    # ------------------------------------------------------------------ RTP -> frames

    def frames(self, payload: bytes) -> list[bytes]:
        """The storage-format frames of an RTP payload (NO_DATA entries left out)."""
        if self.octet_aligned:
            return self._frames_octet(payload)
        return self._frames_packed(payload)

    def _frames_octet(self, payload: bytes) -> list[bytes]:
        pos, toc = 1, []
        while True:  # after the CMR byte: ToC bytes F|FT(4)|Q|P P
            if pos >= len(payload):
                raise MalformedAmr("truncated table of contents")
            entry = payload[pos]
            pos += 1
            toc.append(entry)
            if not entry & 0x80:
                break
        out = []
        for entry in toc:
            ft, q = (entry >> 3) & 0x0F, (entry >> 2) & 1
            size = (self.frame_bits(ft) + 7) // 8
            if pos + size > len(payload):
                raise MalformedAmr("truncated frame")
            if ft != NO_DATA:
                out.append(bytes([(ft << 3) | (q << 2)]) + payload[pos:pos + size])
            pos += size
        return out

    def _frames_packed(self, payload: bytes) -> list[bytes]:
        total = len(payload) * 8
        value = int.from_bytes(payload, "big")

        def take(pos: int, count: int) -> int:
            if pos + count > total:
                raise MalformedAmr("truncated payload")
            return (value >> (total - pos - count)) & ((1 << count) - 1)
        pos, toc = 4, []  # CMR: 4 bits
        while True:  # ToC entries: F(1) FT(4) Q(1)
            entry = take(pos, 6)
            pos += 6
            toc.append(entry)
            if not entry & 0x20:
                break
        out = []
        for entry in toc:
            ft, q = (entry >> 1) & 0x0F, entry & 1
            bits = self.frame_bits(ft)
            speech = take(pos, bits)
            pos += bits
            if ft != NO_DATA:
                pad = (8 - bits % 8) % 8
                out.append(bytes([(ft << 3) | (q << 2)])
                           + (speech << pad).to_bytes((bits + pad) // 8, "big"))
        return out

    # ------------------------------------------------------------------ frames -> RTP

    def payload(self, frames: list[bytes], cmr: int = NO_REQUEST) -> bytes:
        """One RTP payload of storage-format ``frames`` (``cmr``: the codec mode request,
        15: none)."""
        parsed = []
        for frame in frames:
            ft, q = (frame[0] >> 3) & 0x0F, (frame[0] >> 2) & 1
            parsed.append((ft, q, frame[1:1 + (self.frame_bits(ft) + 7) // 8]))
        if self.octet_aligned:
            out = bytearray([cmr << 4])
            for n, (ft, q, _) in enumerate(parsed):
                out.append((0x80 if n < len(parsed) - 1 else 0) | (ft << 3) | (q << 2))
            for _, _, speech in parsed:
                out += speech
            return bytes(out)
        value, bits = cmr, 4
        for n, (ft, q, _) in enumerate(parsed):
            value = (value << 6) | ((1 if n < len(parsed) - 1 else 0) << 5) | (ft << 1) | q
            bits += 6
        for ft, _, speech in parsed:
            count = self.frame_bits(ft)
            value = (value << count) | (int.from_bytes(speech, "big") >> (len(speech) * 8
                                                                          - count))
            bits += count
        pad = (8 - bits % 8) % 8
        return (value << pad).to_bytes((bits + pad) // 8, "big")
