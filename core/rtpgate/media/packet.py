"""What a datagram on a media port is, and the few rewrites the relay does to RTP.

Demultiplexing follows RFC 7983 by the first byte: 0-3 STUN, 20-63 DTLS, 128-191 RTP or RTCP
(version 2).  RTP and RTCP on one port (rtcp-mux) are told apart as RFC 5761 section 4 says:
a second byte of 192-223 (payload type 64-95 with the marker bit set, i.e. RTCP packet types
SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR ...) is RTCP.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Smallest valid RTP packet: the fixed header.
RTP_HEADER = 12
#: Smallest valid RTCP packet: a receiver report with no report blocks.
RTCP_HEADER = 8

STUN_MAGIC = b"\x21\x12\xa4\x42"


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 section 4: RTCP when the second byte is 192-223."""
    return 192 <= data[1] <= 223


def is_stun(data: bytes) -> bool:
    """A STUN message (RFC 5389): first two bits zero, length a multiple of 4 that matches the
    datagram, and the magic cookie."""
    return (len(data) >= 20 and data[0] < 4 and data[4:8] == STUN_MAGIC
            and (data[2] << 8 | data[3]) == len(data) - 20)


def is_dtls(data: bytes) -> bool:
    """A DTLS record (RFC 7983: first byte 20-63) with at least a record header."""
    return len(data) >= 13 and 20 <= data[0] <= 63


def rtp_payload_bounds(data: bytes) -> tuple[int, int] | None:
    """``(start, end)`` of an RTP packet's payload, past CSRCs and header extension and before
    padding; ``None`` when the header does not fit in the packet."""
    size = len(data)
    start = RTP_HEADER + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:  # header extension: 16-bit profile, 16-bit length in 32-bit words
        if start + 4 > size:
            return None
        start += 4 + 4 * (data[start + 2] << 8 | data[start + 3])
    end = size
    if data[0] & 0x20:  # padding: the last byte counts the padding bytes, itself included
        end -= data[-1]
    if start > end:
        return None
    return start, end


#: The byte that fills a silent payload, by encoding name (upper case, as in ``a=rtpmap``).
#: Only codecs whose silence is one repeated byte: G.711 and 16-bit linear PCM.
SILENCE_BYTE: Mapping[str, int] = {"PCMU": 0xFF, "PCMA": 0xD5, "L16": 0x00, "L8": 0x80}

#: Static payload types (RFC 3551) whose encoding is known without an ``a=rtpmap``.
STATIC_ENCODINGS: Mapping[int, str] = {0: "PCMU", 8: "PCMA", 10: "L16", 11: "L16"}


def silence(data: bytes, fill: int) -> bytes | None:
    """``data`` with its RTP payload replaced by ``fill`` bytes (header, CSRCs, extension and
    padding kept, so sizes and sequence numbers are unchanged); ``None`` if malformed."""
    bounds = rtp_payload_bounds(data)
    if bounds is None:
        return None
    start, end = bounds
    return data[:start] + bytes((fill,)) * (end - start) + data[end:]
