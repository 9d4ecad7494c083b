"""The native readers' one epoll set (``Relay.poller``, ``_fastrelay.Poller``) on real loopback
sockets: many ports ready at once are all relayed in one wake-up, each counted on its stream and
on the shared interface and server counters (which the poller adds once per round); a released
stream's sockets leave the set; the relay's close closes it.  Without the extension (``tox -e
pure``) or with ``RTPGATE_NATIVE_RELAY=0`` there is no poller and the same traffic must give the
same results through the Python loop's readers.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from media_packets import rtp
from rtpgate.counters import Stats
from rtpgate.media import Learning, Relay, RelayStream
from test_relay_streams import LOCAL, nothing, recv, udp

EXPECT = os.environ.get("RTPGATE_EXPECT_NATIVE")
SIZE = len(rtp(0))
CALLS = 20


@dataclass
class Calls:
    relay: Relay
    stats: Stats
    #: per call: the two parties' sockets and the relay's streams advertised to them
    parties: list[tuple[socket.socket, socket.socket]]
    streams: list[tuple[RelayStream, RelayStream]]
    sockets: list[socket.socket]

    def send_all(self, seq: int, calls: range | None = None) -> None:
        """One packet from each party of each call, without waiting in between."""
        for k in calls or range(len(self.streams)):
            (alice, bob), (a, b) = self.parties[k], self.streams[k]
            alice.sendto(rtp(seq, ssrc=1000 + k), a.local)
            bob.sendto(rtp(seq, ssrc=2000 + k), b.local)

    async def receive_all(self, seq: int, calls: range | None = None) -> None:
        for k in calls or range(len(self.streams)):
            alice, bob = self.parties[k]
            assert (await recv(bob))[0] == rtp(seq, ssrc=1000 + k)
            assert (await recv(alice))[0] == rtp(seq, ssrc=2000 + k)


@pytest.fixture
async def calls() -> AsyncIterator[Calls]:
    stats = Stats()
    relay = Relay(stats)
    made = Calls(relay, stats, [], [], [])
    for _ in range(CALLS):
        ports, alice, bob = [udp(), udp()], udp(), udp()
        made.sockets += [*ports, alice, bob]
        a, b = relay.open(ports[0]), relay.open(ports[1])
        for stream, party in ((a, alice), (b, bob)):
            stream.configure(learning=Learning.IMMEDIATE)
            stream.fill(party.getsockname())
            stream.signal()
        a.link(b)
        b.link(a)
        made.parties.append((alice, bob))
        made.streams.append((a, b))
    yield made
    relay.close()
    for sock in made.sockets:
        sock.close()


def native_packets(calls: Calls) -> int:
    return sum(getattr(reader, "native_packets", 0) for reader in calls.relay.readers.values())


async def test_every_ready_port_is_relayed_and_counted_in_one_round(calls: Calls) -> None:
    if calls.relay.native:
        assert calls.relay.poller is not None
        assert calls.relay.poller.watched == 2 * CALLS
    elif EXPECT == "1":
        pytest.fail("RTPGATE_EXPECT_NATIVE=1 but the relay is not native")
    else:
        assert calls.relay.poller is None
    calls.send_all(0)  # confirms each party and its SSRC (in Python)
    await calls.receive_all(0)
    for seq in range(1, 6):
        calls.send_all(seq)  # every port ready at once
        await calls.receive_all(seq)
    total = 2 * CALLS * 6
    assert calls.stats.relayed.packets == total
    assert calls.stats.relayed.bytes == total * SIZE
    interface = calls.stats.interface("default", LOCAL)
    assert interface.ingress.packets == interface.egress.packets == total
    assert interface.ingress.bytes == interface.egress.bytes == total * SIZE
    for a, b in calls.streams:
        assert a.stats_in.packets == b.stats_out.packets == 6
        assert b.stats_in.packets == a.stats_out.packets == 6
        assert a.owner.last_packet > 0 and b.owner.last_packet > 0
    if calls.relay.native:
        assert native_packets(calls) == 2 * CALLS * 5


async def test_released_streams_leave_the_set_and_the_others_go_on(calls: Calls) -> None:
    calls.send_all(0)
    await calls.receive_all(0)
    calls.send_all(1)  # in flight while half the calls end
    for a, b in calls.streams[: CALLS // 2]:
        a.release()
        b.release()
    if calls.relay.poller is not None:
        assert calls.relay.poller.watched == CALLS
    kept = range(CALLS // 2, CALLS)
    await calls.receive_all(1, kept)
    calls.send_all(2)
    await calls.receive_all(2, kept)
    for alice, bob in calls.parties[: CALLS // 2]:
        await nothing(bob, 0.05)
        await nothing(alice, 0.05)
    for a, b in calls.streams[CALLS // 2:]:
        assert a.stats_in.packets == b.stats_in.packets == 3


async def test_close_closes_the_set() -> None:
    relay = Relay(Stats())
    port, party = udp(), udp()
    try:
        stream = relay.open(port)
        stream.fill(party.getsockname())
        poller = relay.poller
        relay.close()
        assert relay.poller is None and relay.streams == {}
        if poller is not None:
            assert poller.fd == -1 and poller.watched == 0
            with pytest.raises(ValueError):
                poller()
        # a new stream on the same loop after the close is read again
        stream = relay.open(port)
        stream.configure(learning=Learning.IMMEDIATE)
        stream.fill(party.getsockname())
        stream.signal()
        other, partner = udp(), udp()
        try:
            sink = relay.open(other)
            sink.fill(partner.getsockname())
            sink.signal()
            stream.link(sink)
            party.sendto(rtp(1), stream.local)
            assert (await recv(partner))[0] == rtp(1)
        finally:
            relay.close()
            other.close()
            partner.close()
    finally:
        port.close()
        party.close()
    await asyncio.sleep(0)


async def test_an_idle_relay_holds_no_epoll_set(calls: Calls) -> None:
    """When the last stream is released the set closes (a server whose calls all ended holds no
    descriptor they made: the leak tests count the server's descriptors), and the next stream
    makes a new one that relays."""
    calls.send_all(0)
    await calls.receive_all(0)
    poller = calls.relay.poller
    if EXPECT == "1":
        assert poller is not None
    for a, b in calls.streams:
        a.release()
        b.release()
    assert calls.relay.poller is None
    if poller is not None:
        assert poller.fd == -1
    port, other, party, partner = udp(), udp(), udp(), udp()
    try:
        stream, sink = calls.relay.open(port), calls.relay.open(other)
        for one, who in ((stream, party), (sink, partner)):
            one.configure(learning=Learning.IMMEDIATE)
            one.fill(who.getsockname())
            one.signal()
        stream.link(sink)
        if EXPECT == "1":
            assert calls.relay.poller is not None and calls.relay.poller.fd >= 0
        party.sendto(rtp(7), stream.local)
        assert (await recv(partner))[0] == rtp(7)
        stream.release()
        sink.release()
    finally:
        for sock in (port, other, party, partner):
            sock.close()
