"""Reception reports read from relayed RTCP: what each party says about the media it gets.

A sender report (SR, packet type 200) or receiver report (RR, 201) carries one report block per
source the sender hears (RFC 3550 section 6.4): fraction lost since the previous report,
cumulative packets lost, and interarrival jitter in timestamp units.  The relay keeps the newest
block per reported SSRC on the stream the RTCP arrived on, so ``query``-style readers (the
dashboard) see loss and jitter without a second count of anything.  Packets are forwarded as they
are; a block that does not parse is ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: RTCP packet types: the two that carry report blocks, and source descriptions.
SR, RR, SDES = 200, 201, 202
#: Reported sources remembered per stream (a hostile sender could name a new one each time).
MAX_REPORTED = 16


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One RFC 3550 report block, as last received."""

    ssrc: int  #: the source this block reports on
    fraction_lost: float  #: 0.0-1.0, since the previous report
    cumulative_lost: int  #: may be negative (duplicates)
    jitter: int  #: interarrival jitter, in RTP timestamp units
    received: float  #: ``time.time()`` of the RTCP packet


def packets(data: bytes | bytearray) -> Iterator[tuple[int, int, int]]:
    """``(offset, packet type, length in bytes)`` of each packet of the compound RTCP packet
    ``data``, up to the first that is not RTP version 2 or does not fit."""
    offset, size = 0, len(data)
    while offset + 8 <= size:
        length = 4 * ((data[offset + 2] << 8 | data[offset + 3]) + 1)
        if data[offset] >> 6 != 2 or offset + length > size:
            return
        yield offset, data[offset + 1], length
        offset += length


def report_blocks(data: bytes, now: float) -> list[ReportBlock]:
    """The report blocks of every SR and RR in the (compound) RTCP packet ``data``."""
    blocks: list[ReportBlock] = []
    for offset, kind, length in packets(data):
        if kind in (SR, RR):
            start = offset + (28 if kind == SR else 8)
            for index in range(data[offset] & 0x1F):
                at = start + 24 * index
                if at + 24 > offset + length:
                    break
                lost = int.from_bytes(data[at + 5:at + 8], "big", signed=True)
                blocks.append(ReportBlock(int.from_bytes(data[at:at + 4], "big"),
                                          data[at + 4] / 256.0, lost,
                                          int.from_bytes(data[at + 12:at + 16], "big"), now))
    return blocks


def remember(reports: dict[int, ReportBlock], blocks: list[ReportBlock]) -> None:
    """Keep the newest block per reported source, at most :data:`MAX_REPORTED` sources."""
    for block in blocks:
        if block.ssrc in reports or len(reports) < MAX_REPORTED:
            reports[block.ssrc] = block
