"""rtpgate's media and stream flag bits <-> rtpengine's (``include/call.h``), which is what the
``media_flags`` and ``ps_flags`` fields of a stored call hold."""

from __future__ import annotations

from rtpgate import api as c

#: (rtpgate bit, rtpengine bit)
MEDIA_BITS: tuple[tuple[int, int], ...] = (
    (c.MF_INITIALIZED, 0x00010000), (c.MF_ASYMMETRIC, 0x00000002), (c.MF_SEND, 0x00000004),
    (c.MF_RECV, 0x00000008), (c.MF_RTCP_MUX, 0x00000010), (c.MF_ICE, 0x00000080),
    (c.MF_TRICKLE_ICE, 0x00000400), (c.MF_ICE_CONTROLLING, 0x00200000),
    (c.MF_ICE_LITE_PEER, 0x00000800), (c.MF_UNIDIRECTIONAL, 0x00001000),
    (c.MF_LOOP_CHECK, 0x00400000), (c.MF_TRANSCODING, 0x00800000),
    (c.MF_RTCP_MUX_OVERRIDE, 0x00020000), (c.MF_PTIME_OVERRIDE, 0x01000000),
    (c.MF_DTLS, 0x00040000), (c.MF_DTLS_ACTIVE, 0x00000020), (c.MF_DTLS_PASSIVE, 0x00000040),
    (c.MF_SDES, 0x00080000),
)
STREAM_BITS: tuple[tuple[int, int], ...] = (
    (c.PS_RTP, 0x00010000), (c.PS_RTCP, 0x00020000), (c.PS_FALLBACK_RTCP, 0x00040000),
    (c.PS_FILLED, 0x00100000), (c.PS_CONFIRMED, 0x00200000), (c.PS_STRICT_SOURCE, 0x00000100),
    (c.PS_MEDIA_HANDOVER, 0x00000200), (c.PS_ICE, 0x00000080), (c.PS_IMPLICIT_RTCP, 0x00000001),
    (c.PS_ZERO_ADDR, 0x04000000), (c.PS_FINGERPRINT_VERIFIED, 0x02000000),
)


def to_rtpengine(flags: int, bits: tuple[tuple[int, int], ...]) -> int:
    return sum(theirs for ours, theirs in bits if flags & ours)


def from_rtpengine(flags: int, bits: tuple[tuple[int, int], ...]) -> int:
    return sum(ours for ours, theirs in bits if flags & theirs)
