"""Building and checking RTP/RTCP packets in the media tests."""

from __future__ import annotations

import struct

RTP = struct.Struct("!BBHII")


def rtp(seq: int, ssrc: int = 0x11223344, pt: int = 0, payload: bytes = b"\x55" * 160,
        ts: int | None = None, marker: bool = False) -> bytes:
    """A version-2 RTP packet; the payload's first bytes carry ``seq`` so reordering or
    corruption is visible in the payload too."""
    head = RTP.pack(0x80, pt | (0x80 if marker else 0), seq & 0xFFFF,
                    (seq * 160 if ts is None else ts) & 0xFFFFFFFF, ssrc)
    return head + struct.pack("!I", seq) + payload[4:]


def rtcp_rr(ssrc: int, tag: int = 0) -> bytes:
    """An RTCP receiver report (PT 201) with one report block; ``tag`` makes each distinct."""
    block = struct.pack("!IIIIII", 0xABCDEF01, tag, 0, 0, 0, 0)
    return struct.pack("!BBHI", 0x81, 201, 7, ssrc) + block


def dtmf_event(seq: int, pt: int = 101, ssrc: int = 0x11223344) -> bytes:
    """An RFC 4733 telephone-event packet (digit 5, end bit clear)."""
    return RTP.pack(0x80, pt, seq, seq * 160, ssrc) + struct.pack("!BBH", 5, 10, 160)
