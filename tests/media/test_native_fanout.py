"""Publish/subscribe copies in the native read loop, on real loopback sockets: a source's
packets reach every subscriber (plain RTP unchanged, SRTP through each subscriber's own libsrtp
session), in order and counted as the Python relay counts them; a subscriber that leaves, is
released or learns its address takes effect from the next packet, and the reader lets go of
what it no longer sends to; each subscriber's own output context (issue 15) is applied by the
native reader over a change of the source's SSRC.  Where ``RTPGATE_EXPECT_NATIVE=1``
(``tox -e e2e``) the native reader must be the one that sent the copies; without the extension
(``tox -e pure``) the same packets must give the same results through the Python relay.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from media_packets import rtp
from rtpgate.counters import Stats
from rtpgate.media import Learning, Pipeline, Relay, RelayStream
from rtpgate.media.outcontext import OutputContext
from rtpgate.media.srtp import SrtpDecrypt, SrtpEncrypt
from rtpgate.media.stream import LEARNING_DELAY
from test_native_relay import KEY, SALT, srtp_session
from test_relay_streams import nothing, recv, udp

EXPECT = os.environ.get("RTPGATE_EXPECT_NATIVE")
SIZE = len(rtp(0))


@dataclass
class Party:
    """A subscriber: the relay's port advertised to it and the party's own socket."""

    stream: RelayStream
    sock: socket.socket


@dataclass
class Publication:
    relay: Relay
    stats: Stats
    publisher: socket.socket  # the source party's socket
    source: RelayStream  # the relay port the source sends to
    subscribers: list[Party] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    def subscribe(self, srtp: bool = False, known: bool = True) -> Party:
        port, party = udp(), udp()
        self.sockets += [port, party]
        stream = self.relay.open(port)
        if known:
            stream.fill(party.getsockname())
        stream.signal()
        if srtp:
            encrypt = SrtpEncrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
            stream.set_pipeline(Pipeline(egress=(encrypt,)))
        subscriber = Party(stream, party)
        self.subscribers.append(subscriber)
        return subscriber

    def publish_to(self, *parties: Party) -> None:
        """What the engine's sync does for the subscribers of the source's media."""
        self.source.fan_out(tuple(party.stream for party in parties))

    def send(self, seq: int) -> None:
        self.publisher.sendto(rtp(seq), self.source.local)

    def reader(self) -> object:
        return self.relay.readers[self.source.fds[0]]


@pytest.fixture
async def publication() -> AsyncIterator[Publication]:
    stats = Stats()
    relay = Relay(stats)
    port, publisher = udp(), udp()
    source = relay.open(port)
    source.fill(publisher.getsockname())
    source.signal()
    source.configure(learning=Learning.IMMEDIATE)
    made = Publication(relay, stats, publisher, source, sockets=[port, publisher])
    yield made
    relay.close()
    for sock in made.sockets:
        sock.close()


async def received(party: Party, srtp: bool, count: int) -> list[bytes]:
    session = srtp_session(False) if srtp else None
    got = []
    for _ in range(count):
        data = (await recv(party.sock))[0]
        got.append(session.unprotect(data) if session is not None else data)
    return got


def native_copies(publication: Publication) -> int:
    return getattr(publication.reader(), "native_copies", 0)


async def test_every_subscriber_gets_every_packet_from_the_native_loop(
        publication: Publication) -> None:
    plain = [publication.subscribe() for _ in range(3)]
    secure = publication.subscribe(srtp=True)
    publication.publish_to(*plain, secure)
    for seq in range(200):
        publication.send(seq)
        if seq % 20 == 19:  # bursts of 20: several packets per wake-up
            for party in plain:
                assert await received(party, False, 20) == [rtp(s) for s in range(seq - 19,
                                                                                 seq + 1)]
            assert await received(secure, True, 20) == [rtp(s) for s in range(seq - 19,
                                                                             seq + 1)]
    source = publication.source
    assert (source.stats_in.packets, source.stats_in.bytes) == (200, 200 * SIZE)
    assert publication.stats.relayed.packets == 200
    for party in plain:
        assert (party.stream.stats_out.packets, party.stream.stats_out.bytes) == (200,
                                                                                 200 * SIZE)
    assert (secure.stream.stats_out.packets, secure.stream.stats_out.bytes) == (
        200, 200 * (SIZE + 10))
    assert publication.stats.interface("default", "127.0.0.1").egress.packets == 800
    assert source.drops.unrouted == 0 and source.stats_in.errors == 0
    assert source.ssrcs == [0x11223344]
    if EXPECT == "1":
        # the first packet confirmed the source and its SSRC in Python; the native reader
        # read the other 199 and sent each of them to the four subscribers itself
        assert publication.reader().native_packets == 199  # type: ignore[attr-defined]
        assert native_copies(publication) == 199 * 4
    elif EXPECT == "0":
        assert not publication.relay.native


async def test_a_source_with_a_peer_and_srtp_sends_to_both(publication: Publication) -> None:
    """An SRTP source with an offer/answer peer (plain) and two subscribers: the peer gets
    what it got before subscribers existed, every subscriber the same packets."""
    peer = publication.subscribe()
    decrypt = SrtpDecrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
    publication.source.set_pipeline(Pipeline(ingress=(decrypt,)))
    publication.source.link(peer.stream)
    plain, secure = publication.subscribe(), publication.subscribe(srtp=True)
    publication.publish_to(plain, secure)
    sender = srtp_session(True)
    for seq in range(60):
        publication.publisher.sendto(sender.protect(rtp(seq)), publication.source.local)
        if seq % 10 == 9:
            want = [rtp(s) for s in range(seq - 9, seq + 1)]
            assert await received(peer, False, 10) == want
            assert await received(plain, False, 10) == want
            assert await received(secure, True, 10) == want
    assert peer.stream.stats_out.packets == plain.stream.stats_out.packets == 60
    assert secure.stream.stats_out.packets == 60
    assert publication.stats.relayed.packets == 60
    if EXPECT == "1":
        assert native_copies(publication) == 59 * 2


async def test_leaving_release_and_a_late_address_apply_to_the_next_packet(
        publication: Publication) -> None:
    staying, leaving, released = (publication.subscribe() for _ in range(3))
    late = publication.subscribe(known=False)  # no address yet: skipped, as in Python
    publication.publish_to(staying, leaving, released, late)
    for seq in range(5):
        publication.send(seq)
        for party in (staying, leaving, released):
            assert (await recv(party.sock))[0] == rtp(seq)
    await nothing(late.sock)
    publication.publish_to(staying, released, late)  # unsubscribe: what the engine's sync sets
    publication.send(5)
    assert (await recv(staying.sock))[0] == rtp(5)
    assert (await recv(released.sock))[0] == rtp(5)
    released.stream.release()  # the subscriber's call deleted mid-stream
    late.stream.fill(late.sock.getsockname())
    for seq in range(6, 10):
        publication.send(seq)
        assert (await recv(staying.sock))[0] == rtp(seq)
        assert (await recv(late.sock))[0] == rtp(seq)
    await nothing(leaving.sock)
    await nothing(released.sock)
    assert staying.stream.stats_out.packets == 10
    assert (leaving.stream.stats_out.packets, released.stream.stats_out.packets) == (5, 6)
    assert late.stream.stats_out.packets == 4
    assert publication.source.drops.unrouted == 0
    reader = publication.reader()
    # the reader holds nothing of a subscriber that left (a released one stays watched, as
    # the source's fanout still names it, until the engine's next sync drops it)
    assert not any(holder is reader for holder in gc.get_referrers(leaving.stream))
    if publication.relay.native:
        assert any(holder is reader for holder in gc.get_referrers(released.stream))
    publication.publish_to(staying, late)
    publication.send(10)
    assert (await recv(staying.sock))[0] == rtp(10)
    assert (await recv(late.sock))[0] == rtp(10)
    assert not any(holder is reader for holder in gc.get_referrers(released.stream))
    if EXPECT == "1":
        assert native_copies(publication) == 4 * 3 + 2 + 4 * 2 + 2


async def test_routes_made_again_and_again_keep_no_reference(publication: Publication) -> None:
    """Each sync gives the source a new fanout tuple, so the native reader makes its route
    again: what it held of the old route (subscribers, their stages and counters) is let go."""
    plain, secure = publication.subscribe(), publication.subscribe(srtp=True)
    stage = secure.stream.pipeline.egress[0]  # type: ignore[union-attr]
    watched = (plain.stream, secure.stream, stage, plain.stream.stats_out,
               secure.stream.stats_out, secure.stream.pipeline)

    async def one_round(seq: int) -> None:
        publication.publish_to(plain, secure)
        publication.send(seq)
        assert (await recv(plain.sock))[0] == rtp(seq)
        await recv(secure.sock)

    for seq in range(3):
        await one_round(seq)
    before = [sys.getrefcount(item) for item in watched]
    for seq in range(3, 203):
        await one_round(seq)
    assert [sys.getrefcount(item) for item in watched] == before
    assert plain.stream.stats_out.packets == secure.stream.stats_out.packets == 203
    if EXPECT == "1":
        assert native_copies(publication) == 202 * 2


async def test_in_the_learning_window_the_native_loop_relays_and_python_confirms_after(
        publication: Publication) -> None:
    """``delayed`` learning (the engine's default): while the window after the last signal is
    open, packets from the address learnt so far take the native path unconfirmed; the first
    packet after the window goes to Python, which confirms the address, as without the loop.
    A stranger in the window is learnt (by Python) and relayed from then on."""
    subscriber = publication.subscribe()
    publication.publish_to(subscriber)
    source = publication.source
    source.configure(learning=Learning.DELAYED)
    source.signal(time.time() - LEARNING_DELAY + 1.0)  # the window closes in a second
    for seq in range(5):
        publication.send(seq)
        assert (await recv(subscriber.sock))[0] == rtp(seq)
    assert not source.confirmed and source.endpoint == publication.publisher.getsockname()
    stranger = udp()
    publication.sockets.append(stranger)
    stranger.sendto(rtp(5), source.local)
    assert (await recv(subscriber.sock))[0] == rtp(5)
    assert source.endpoint == stranger.getsockname() and not source.confirmed
    for seq in range(6, 9):
        stranger.sendto(rtp(seq), source.local)
        assert (await recv(subscriber.sock))[0] == rtp(seq)
    copies_in_window = native_copies(publication)
    await asyncio.sleep(max(0.0, source.signalled + LEARNING_DELAY - time.time()) + 0.05)
    assert not source.confirmed
    stranger.sendto(rtp(9), source.local)
    assert (await recv(subscriber.sock))[0] == rtp(9)
    assert source.confirmed and source.endpoint == stranger.getsockname()
    for seq in range(10, 13):
        stranger.sendto(rtp(seq), source.local)
        assert (await recv(subscriber.sock))[0] == rtp(seq)
    publication.send(13)  # the first address, now a stranger: forwarded, not learnt
    assert (await recv(subscriber.sock))[0] == rtp(13)
    assert source.endpoint == stranger.getsockname()
    assert subscriber.stream.stats_out.packets == source.stats_in.packets == 14
    if EXPECT == "1":
        # the first packet (new SSRC), the stranger's first, the one after the window and
        # the last (another source) went to Python
        assert copies_in_window == 4 + 3
        assert native_copies(publication) == 14 - 4


async def test_the_native_loop_applies_each_subscribers_own_numbering(
        publication: Publication) -> None:
    """Issue 15: subscribers with their own output context (as the engine gives them).  The
    source changes its SSRC and numbering after 40 packets: each subscriber's stream goes on
    with its first SSRC and contiguous numbers, plain and SRTP; a subscriber added after the
    change starts aligned with the new SSRC.  The packets that need no rebase, rewritten or
    not, are the native reader's."""
    first, secure = publication.subscribe(), publication.subscribe(srtp=True)
    for party in (first, secure):
        party.stream.context = OutputContext()
    publication.publish_to(first, secure)
    for seq in range(40):
        publication.send(seq)
    for party, srtp in ((first, False), (secure, True)):
        assert await received(party, srtp, 40) == [rtp(s) for s in range(40)]
    copies = native_copies(publication)

    changed = [rtp(seq, ssrc=0xC0FFEE) for seq in range(30000, 30040)]
    for data in changed[:20]:
        publication.publisher.sendto(data, publication.source.local)
    ours = [rtp(seq) for seq in range(40, 80)]  # the first SSRC, numbers and timestamps on
    for party, srtp in ((first, False), (secure, True)):
        got = await received(party, srtp, 20)
        assert [g[:12] for g in got] == [o[:12] for o in ours[:20]]
        assert [g[12:] for g in got] == [c[12:] for c in changed[:20]]
    joined = publication.subscribe()
    joined.stream.context = OutputContext()
    publication.publish_to(first, secure, joined)
    for data in changed[20:]:
        publication.publisher.sendto(data, publication.source.local)
    for party, srtp in ((first, False), (secure, True)):
        got = await received(party, srtp, 20)
        assert [g[:12] for g in got] == [o[:12] for o in ours[20:]]
    assert await received(joined, False, 20) == changed[20:]
    if EXPECT == "1":
        # in Python: the new SSRC's first packet (a new route) and the joined subscriber's
        # first (its context starts there); the native reader sent every other copy
        assert native_copies(publication) - copies == 19 * 2 + 19 * 3


async def test_loss_and_reordering_keep_a_subscribers_offsets(publication: Publication) -> None:
    """Issue 15: after a source's SSRC change has moved a subscriber's numbering, lost and
    reordered packets (within RFC 3550's bounds) keep its offsets, as the source's numbers go;
    a jump of the source's sequence numbers moves it on by one packet."""
    party = publication.subscribe()
    party.stream.context = OutputContext()
    publication.publish_to(party)
    for seq in range(10):
        publication.send(seq)
    assert await received(party, False, 10) == [rtp(s) for s in range(10)]
    sent = [500, 501, 503, 502, 504, 9000, 9001]
    for seq in sent:
        publication.publisher.sendto(rtp(seq, ssrc=0xC0FFEE), publication.source.local)
    got = await received(party, False, len(sent))
    assert [g[:12] for g in got] == [rtp(s)[:12] for s in (10, 11, 13, 12, 14, 15, 16)]
