"""RTP and RTCP as the transcoded leg needs them: reading a packet's header and payload, and
writing packets and sender reports of rtpgate's own stream (its SSRC, sequence numbers and
timestamps), RFC 3550."""

from __future__ import annotations

import secrets
import struct
import time
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
_SR = struct.Struct("!BBHIIIIII")
#: Seconds between the NTP epoch (1900) and the Unix epoch.
NTP_OFFSET = 2208988800


class MalformedRtp(ValueError):  # noqa: N818 - a drop reason
    """Not an RTP packet that can be decoded (too short, bad padding, bad header length)."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    pt: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse(data: bytes) -> RtpPacket:
    """Header fields and payload of ``data`` (CSRCs, extension and padding removed)."""
    if len(data) < 12 or data[0] >> 6 != 2:
        raise MalformedRtp("not RTP")
    first, second, seq, timestamp, ssrc = _HEADER.unpack_from(data)
    start = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(data) < start + 4:
            raise MalformedRtp("truncated extension")
        start += 4 + 4 * int.from_bytes(data[start + 2:start + 4], "big")
    end = len(data)
    if first & 0x20:
        end -= data[-1]
    if start > end:
        raise MalformedRtp("header longer than the packet")
    return RtpPacket(second & 0x7F, bool(second & 0x80), seq, timestamp, ssrc,
                     data[start:end])


class OutputStream:
    """rtpgate's own RTP stream towards one party: a random SSRC, sequence number and
    timestamp origin (RFC 3550 5.1; the transcoding stage sets the sequence number and the
    origin from the sender's, as rtpengine does), and what the sender report counts."""

    def __init__(self, pt: int, clock: int) -> None:
        self.pt = pt
        self.clock = clock
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.ts_base = secrets.randbits(32)
        self.packets = 0
        self.octets = 0
        #: Last RTP timestamp sent and when (for the sender report's RTP time).
        self.last_ts = self.ts_base
        self.last_sent = 0.0

    def packet(self, ticks: int, payload: bytes, marker: bool = False, pt: int | None = None
               ) -> bytes:
        """An RTP packet whose first sample is at ``ticks`` (RTP clock units from the start of
        this stream); ``pt`` another payload type on the same stream (telephone-event)."""
        timestamp = (self.ts_base + ticks) & 0xFFFFFFFF
        header = _HEADER.pack(0x80, (self.pt if pt is None else pt) | (0x80 if marker else 0),
                              self.seq, timestamp, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        self.packets += 1
        self.octets += len(payload)
        self.last_ts, self.last_sent = timestamp, time.time()
        return header + payload

    def sender_report(self, now: float | None = None) -> bytes:
        """An RTCP SR without report blocks for this stream (RFC 3550 6.4.1)."""
        now = time.time() if now is None else now
        rtp_ts = (self.last_ts + int((now - self.last_sent) * self.clock)) & 0xFFFFFFFF \
            if self.last_sent else self.ts_base
        ntp = now + NTP_OFFSET
        seconds = int(ntp)
        fraction = int((ntp - seconds) * (1 << 32)) & 0xFFFFFFFF
        return _SR.pack(0x80, 200, 6, self.ssrc, seconds & 0xFFFFFFFF, fraction, rtp_ts,
                        self.packets & 0xFFFFFFFF, self.octets & 0xFFFFFFFF)
