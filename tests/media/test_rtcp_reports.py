"""RTCP reception reports: parsed from SR and RR (compound packets too), kept per reported
source on the stream they arrived on, and forwarded unchanged."""

from __future__ import annotations

import asyncio
import socket
import struct

from rtpgate.counters import Stats
from rtpgate.media import Relay
from rtpgate.media.rtcp import MAX_REPORTED, ReportBlock, remember, report_blocks

LOCAL = "127.0.0.1"


def block(source: int, fraction: int, lost: int, jitter: int) -> bytes:
    return struct.pack("!IB3sIIII", source, fraction, lost.to_bytes(3, "big", signed=True),
                       0x10000 + 500, jitter, 0, 0)


def rr(ssrc: int, *blocks: bytes) -> bytes:
    return struct.pack("!BBHI", 0x80 | len(blocks), 201, 1 + 6 * len(blocks), ssrc) + \
        b"".join(blocks)


def sr(ssrc: int, *blocks: bytes) -> bytes:
    info = struct.pack("!IIIII", 1, 2, 3, 4, 5)
    return struct.pack("!BBHI", 0x80 | len(blocks), 200, 6 + 6 * len(blocks), ssrc) + info + \
        b"".join(blocks)


SDES = struct.pack("!BBHI", 0x81, 202, 2, 0x1234) + b"\x01\x02ab\x00\x00\x00\x00"[:4]


def test_blocks_of_a_compound_packet() -> None:
    data = sr(1, block(0xAA, 64, 10, 80)) + SDES + rr(2, block(0xBB, 0, -3, 0),
                                                       block(0xCC, 255, 100000, 7))
    assert report_blocks(data, 5.0) == [
        ReportBlock(0xAA, 0.25, 10, 80, 5.0),
        ReportBlock(0xBB, 0.0, -3, 0, 5.0),
        ReportBlock(0xCC, 255 / 256, 100000, 7, 5.0),
    ]


def test_what_does_not_parse_gives_nothing() -> None:
    good = rr(2, block(0xBB, 1, 1, 1))
    assert report_blocks(good[:-4], 0.0) == []  # the length says more than there is
    assert report_blocks(b"\x40" + good[1:], 0.0) == []  # version 1
    assert report_blocks(struct.pack("!BBHI", 0x85, 201, 1, 9), 0.0) == []  # 5 blocks claimed
    assert report_blocks(b"", 0.0) == []


def test_newest_block_per_source_and_a_bound() -> None:
    reports: dict[int, ReportBlock] = {}
    remember(reports, [ReportBlock(1, 0.1, 1, 1, 1.0)])
    remember(reports, [ReportBlock(1, 0.2, 2, 2, 2.0)])
    assert reports == {1: ReportBlock(1, 0.2, 2, 2, 2.0)}
    remember(reports, [ReportBlock(n, 0, 0, 0, 3.0) for n in range(2, 100)])
    assert len(reports) == MAX_REPORTED and reports[1].fraction_lost == 0.2


async def test_relay_keeps_reports_and_forwards_the_packet() -> None:
    relay = Relay(Stats())
    ports = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    for sock in ports:
        sock.bind((LOCAL, 0))
        sock.setblocking(False)
    a_port, b_port, alice, bob = ports
    a = relay.open(a_port, rtcp=True)
    b = relay.open(b_port, rtcp=True)
    a.fill(alice.getsockname())
    b.fill(bob.getsockname())
    a.link(b)
    b.link(a)
    try:
        packet = rr(0x11, block(0x22, 128, 5, 160))
        alice.sendto(packet, a.local)
        loop = asyncio.get_running_loop()
        data, source = await asyncio.wait_for(loop.sock_recvfrom(bob, 2048), 2)
        assert (data, source) == (packet, b.local)
        report = a.rtcp_reports[0x22]
        assert (report.fraction_lost, report.cumulative_lost, report.jitter) == (0.5, 5, 160)
        assert b.rtcp_reports == {}
    finally:
        relay.close()
        for sock in ports:
            sock.close()
