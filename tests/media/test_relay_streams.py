"""The relay on its own, on real loopback sockets: forwarding, endpoint learning, media control,
ICE-lite and hostile traffic, without the engine (the ng-driven tests are in test_media_ng)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aioice import stun
from media_packets import dtmf_event, rtcp_rr, rtp
from rtpgate.counters import Stats
from rtpgate.media import IceCredentials, Learning, MediaControl, Relay, RelayStream

LOCAL = "127.0.0.1"


def udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCAL, 0))
    sock.setblocking(False)
    return sock


async def recv(sock: socket.socket, timeout: float = 1.0) -> tuple[bytes, tuple[str, int]]:
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.sock_recvfrom(sock, 4096), timeout)


async def nothing(sock: socket.socket, wait: float = 0.15) -> None:
    """Assert that nothing arrives on ``sock`` within ``wait`` seconds."""
    await asyncio.sleep(wait)
    with pytest.raises(BlockingIOError):
        sock.recvfrom(4096)


@dataclass
class Call:
    """Two parties and the two relay ports advertised to them."""

    relay: Relay
    stats: Stats
    alice: socket.socket  # party A's socket (the address in A's SDP)
    bob: socket.socket
    a: RelayStream  # the relay port advertised to A
    b: RelayStream
    ports: list[socket.socket]

    def send_a(self, data: bytes, sock: socket.socket | None = None) -> None:
        (sock or self.alice).sendto(data, self.a.local)

    def send_b(self, data: bytes, sock: socket.socket | None = None) -> None:
        (sock or self.bob).sendto(data, self.b.local)


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    stats = Stats()
    relay = Relay(stats)
    ports = [udp(), udp()]
    a, b = relay.open(ports[0]), relay.open(ports[1])
    alice, bob = udp(), udp()
    a.fill(alice.getsockname())
    b.fill(bob.getsockname())
    a.signal()
    b.signal()
    a.link(b)
    b.link(a)
    yield Call(relay, stats, alice, bob, a, b, ports)
    relay.close()
    for sock in [*ports, alice, bob]:
        sock.close()


async def test_forwards_both_ways_unaltered_from_the_right_port(call: Call) -> None:
    for seq in range(50):
        call.send_a(rtp(seq))
        data, source = await recv(call.bob)
        assert data == rtp(seq)
        assert source == call.b.local
        call.send_b(rtp(seq, ssrc=7))
        data, source = await recv(call.alice)
        assert data == rtp(seq, ssrc=7)
        assert source == call.a.local
    assert (call.a.stats_in.packets, call.b.stats_out.packets) == (50, 50)
    assert call.a.stats_in.bytes == 50 * 172
    assert call.a.ssrcs == [0x11223344] and call.b.ssrcs == [7]
    assert call.stats.relayed.packets == 100
    counters = call.stats.interface("default", LOCAL)
    assert counters.ingress.packets == counters.egress.packets == 100


async def test_packets_before_the_other_side_is_known_are_counted_and_dropped(call: Call) -> None:
    call.b.fill(None)
    for seq in range(5):
        call.send_a(rtp(seq))
    await nothing(call.bob)
    assert call.a.stats_in.packets == 5
    assert call.a.drops.unrouted == call.a.stats_in.errors == 5
    assert call.stats.relayed.errors == 5


async def test_latches_onto_the_source_within_the_learning_window(call: Call) -> None:
    other = udp()
    try:
        call.send_a(rtp(1), other)
        await recv(call.bob)
        assert call.a.endpoint == other.getsockname() and not call.a.confirmed
        call.send_b(rtp(1))
        data, _ = await recv(other)  # media comes back where A really sends from
        assert data == rtp(1)
        await nothing(call.alice)
    finally:
        other.close()


async def test_delayed_learning_confirms_after_the_window(call: Call) -> None:
    call.a.signal(0.0)  # the last signal was long ago
    call.send_a(rtp(1))
    await recv(call.bob)
    assert call.a.confirmed and call.a.endpoint == call.alice.getsockname()


async def test_strict_source_drops_and_counts_a_third_party(call: Call) -> None:
    call.a.configure(strict_source=True, learning=Learning.IMMEDIATE)
    intruder = udp()
    try:
        call.send_a(rtp(1))
        await recv(call.bob)
        for seq in range(3):
            call.send_a(rtp(100 + seq), intruder)
        await nothing(call.bob)
        assert call.a.drops.strict_source == 3 and call.a.stats_in.errors == 3
        call.send_a(rtp(2))
        assert (await recv(call.bob))[0] == rtp(2)
    finally:
        intruder.close()


async def test_without_strict_source_a_third_party_is_forwarded(call: Call) -> None:
    call.a.configure(learning=Learning.IMMEDIATE)
    intruder = udp()
    try:
        call.send_a(rtp(1))
        await recv(call.bob)
        call.send_a(rtp(2), intruder)
        await recv(call.bob)
        assert call.a.endpoint == call.alice.getsockname()  # confirmed: no re-learning
    finally:
        intruder.close()


async def test_media_handover_moves_the_endpoint(call: Call) -> None:
    call.a.configure(media_handover=True, strict_source=True, learning=Learning.IMMEDIATE)
    moved = udp()
    try:
        call.send_a(rtp(1))
        await recv(call.bob)
        call.send_a(rtp(2), moved)
        await recv(call.bob)
        call.send_b(rtp(3))
        assert (await recv(moved))[0] == rtp(3)
    finally:
        moved.close()


async def test_asymmetric_sends_to_the_sdp_address(call: Call) -> None:
    call.a.configure(asymmetric=True)
    other = udp()
    try:
        call.send_a(rtp(1), other)
        await recv(call.bob)
        call.send_b(rtp(2))
        assert (await recv(call.alice))[0] == rtp(2)
        await nothing(other)
    finally:
        other.close()


async def test_rtcp_mux_goes_to_the_rtcp_sink() -> None:
    stats = Stats()
    relay = Relay(stats)
    ports = [udp(), udp(), udp()]
    a = relay.open(ports[0])  # A muxes RTP and RTCP on one port
    b_rtp, b_rtcp = relay.open(ports[1]), relay.open(ports[2], rtcp=True)
    alice, bob, bob_rtcp = udp(), udp(), udp()
    try:
        a.fill(alice.getsockname())
        b_rtp.fill(bob.getsockname())
        b_rtcp.fill(bob_rtcp.getsockname())
        a.configure(rtcp_mux=True)
        a.link(b_rtp, b_rtcp)
        b_rtp.link(a)
        b_rtcp.link(a)
        alice.sendto(rtp(1), a.local)
        alice.sendto(rtcp_rr(0x11223344, 1), a.local)
        assert await recv(bob) == (rtp(1), b_rtp.local)
        assert await recv(bob_rtcp) == (rtcp_rr(0x11223344, 1), b_rtcp.local)
        bob_rtcp.sendto(rtcp_rr(7, 2), b_rtcp.local)  # B's RTCP arrives muxed at A
        assert await recv(alice) == (rtcp_rr(7, 2), a.local)
    finally:
        relay.close()
        for sock in [*ports, alice, bob, bob_rtcp]:
            sock.close()


async def test_block_media_then_unblock(call: Call) -> None:
    call.a.set_control(MediaControl.for_codecs({}, block_media=True))
    call.send_a(rtp(1))
    await nothing(call.bob)
    call.send_b(rtp(1))
    await recv(call.alice)  # the other direction is not blocked
    call.a.set_control(None)
    call.send_a(rtp(2))
    assert (await recv(call.bob))[0] == rtp(2)
    assert call.a.drops.blocked == 1 and call.a.stats_in.errors == 0


@pytest.mark.parametrize(("pt", "codecs", "fill"), [(0, {}, 0xFF), (8, {}, 0xD5),
                                                     (96, {96: "PCMA/8000"}, 0xD5)])
async def test_silence_media_then_unsilence(call: Call, pt: int, codecs: dict[int, str],
                                            fill: int) -> None:
    call.a.set_control(MediaControl.for_codecs(codecs, silence_media=True))
    call.send_a(rtp(1, pt=pt))
    data, _ = await recv(call.bob)
    assert data[:12] == rtp(1, pt=pt)[:12] and data[12:] == bytes([fill]) * 160
    call.a.set_control(None)
    call.send_a(rtp(2, pt=pt))
    assert (await recv(call.bob))[0] == rtp(2, pt=pt)


async def test_silence_keeps_csrcs_extension_and_padding(call: Call) -> None:
    call.a.set_control(MediaControl.for_codecs({}, silence_media=True))
    header = bytes([0xB1, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2])  # P, X, CC=1
    csrc, extension = b"\x00\x00\x00\x09", b"\xbe\xde\x00\x01" + b"\x10\xaa\x00\x00"
    packet = header + csrc + extension + b"\x12" * 20 + b"\x00\x00\x03"
    call.send_a(packet)
    data, _ = await recv(call.bob)
    assert data == header + csrc + extension + b"\xff" * 20 + b"\x00\x00\x03"


async def test_block_dtmf_drops_only_telephone_events(call: Call) -> None:
    codecs = {0: "PCMU/8000", 101: "telephone-event/8000"}
    call.a.set_control(MediaControl.for_codecs(codecs, block_dtmf=True))
    call.send_a(dtmf_event(1))
    call.send_a(rtp(2))
    assert (await recv(call.bob))[0] == rtp(2)
    await nothing(call.bob)
    call.a.set_control(None)
    call.send_a(dtmf_event(3))
    assert (await recv(call.bob))[0] == dtmf_event(3)


def binding_request(username: str, pwd: str, use_candidate: bool = False) -> stun.Message:
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    request.attributes["USERNAME"] = username
    request.attributes["PRIORITY"] = 0x6E0001FF
    request.attributes["ICE-CONTROLLING"] = 0x1234
    if use_candidate:
        request.attributes["USE-CANDIDATE"] = None
    request.add_message_integrity(pwd.encode())
    return request


async def test_stun_binding_with_the_right_credentials(call: Call) -> None:
    call.a.set_ice(IceCredentials("rtpgUfrag", "rtpgatePasswordOf22chars", "peer"))
    other = udp()
    try:
        request = binding_request("rtpgUfrag:peer", "rtpgatePasswordOf22chars", True)
        other.sendto(bytes(request), call.a.local)
        data, source = await recv(other)
        assert source == call.a.local
        reply = stun.parse_message(data)  # checks FINGERPRINT
        assert reply.message_class == stun.Class.RESPONSE
        assert reply.transaction_id == request.transaction_id
        assert reply.attributes["XOR-MAPPED-ADDRESS"] == other.getsockname()
        assert reply.check_message_integrity(b"rtpgatePasswordOf22chars")
        assert "FINGERPRINT" in reply.attributes
        assert call.a.endpoint == other.getsockname() and call.a.confirmed  # nominated
        assert call.a.stats_in.packets == 0  # STUN is not media
    finally:
        other.close()


@pytest.mark.parametrize(("username", "pwd"), [("rtpgUfrag:peer", "wrong-password-xxxxxxx"),
                                               ("otherUfrag:peer", "rtpgatePasswordOf22chars"),
                                               ("rtpgUfrag:notpeer", "rtpgatePasswordOf22chars")])
async def test_stun_binding_with_wrong_credentials_gets_401(call: Call, username: str,
                                                            pwd: str) -> None:
    call.a.set_ice(IceCredentials("rtpgUfrag", "rtpgatePasswordOf22chars", "peer"))
    call.send_a(bytes(binding_request(username, pwd, True)))
    data, _ = await recv(call.alice)
    reply = stun.parse_message(data)
    assert reply.message_class == stun.Class.ERROR and reply.error_code == 401
    assert "MESSAGE-INTEGRITY" not in reply.attributes
    assert call.a.drops.stun_rejected == 1
    assert call.a.endpoint == call.alice.getsockname() and not call.a.confirmed


async def test_hostile_datagrams_are_errors_and_media_keeps_flowing(call: Call) -> None:
    hostile = [b"", b"\x80", b"\x80" * 7, b"\x40" + b"\x00" * 40, b"\x00" * 11,
               b"\x16\xfe\xfd" + b"\x00" * 30, b"\xff" * 1500,
               bytes(binding_request("x:y", "z"))]  # STUN on a port without ICE
    for data in hostile:
        call.send_a(data)
    call.send_a(rtp(1))
    assert (await recv(call.bob))[0] == rtp(1)
    await nothing(call.bob)
    assert call.a.drops.malformed == len(hostile)
    assert call.a.stats_in.errors == len(hostile) and call.a.stats_in.packets == 1


FLOODER = """
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target, junk, end = ("127.0.0.1", int(sys.argv[1])), b"\\x00" * 100, time.monotonic() + 1.5
while time.monotonic() < end:
    for _ in range(100):
        try:
            sock.sendto(junk, target)
        except OSError:
            pass
"""


async def test_a_flood_does_not_starve_another_call(call: Call) -> None:
    flooded = udp()
    stream = call.relay.open(flooded)
    flooder = await asyncio.create_subprocess_exec(sys.executable, "-c", FLOODER,
                                                   str(stream.local[1]))
    try:
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        worst = 0.0
        for seq in range(50):
            started = loop.time()
            call.send_a(rtp(seq))
            assert (await recv(call.bob, timeout=0.5))[0] == rtp(seq)
            worst = max(worst, loop.time() - started)
            await asyncio.sleep(0.01)
        assert worst < 0.1
        assert stream.drops.malformed > 10000  # the flood was being read all along
    finally:
        await flooder.wait()
        stream.release()
        flooded.close()


async def test_release_stops_relaying(call: Call) -> None:
    call.a.release()
    call.a.release()
    assert call.a.closed and list(call.relay.streams) == call.b.fds
    call.send_b(rtp(1))
    await nothing(call.alice)
    assert call.b.drops.unrouted == 1


async def test_a_closed_and_reused_descriptor_is_watched_again() -> None:
    relay = Relay(Stats())
    first = udp()
    stream = relay.open(first)
    first.close()  # without release: the descriptor number is reused below
    second, sender, peer = udp(), udp(), udp()
    try:
        assert second.fileno() == stream.fds[0]
        again = relay.open(second)
        again.fill(sender.getsockname())
        again.link(again)  # echo back to the sender
        sender.sendto(rtp(1), again.local)
        assert (await recv(sender))[0] == rtp(1)
        assert stream.closed
    finally:
        relay.close()
        for sock in (second, sender, peer):
            sock.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_ipv6_forwarding_and_learning() -> None:
    relay = Relay(Stats())
    socks = []
    for _ in range(4):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind(("::1", 0))
        sock.setblocking(False)
        socks.append(sock)
    ports, (alice, bob) = socks[:2], socks[2:]
    try:
        a, b = relay.open(ports[0], ("default", "::1")), relay.open(ports[1], ("default", "::1"))
        a.fill(("::1", 9))  # Alice's SDP says another port: learned from her packets
        b.fill(bob.getsockname()[:2])
        a.signal()
        b.signal()
        a.link(b)
        b.link(a)
        alice.sendto(rtp(1), a.local)
        data, source = await recv(bob)
        assert data == rtp(1) and source[:2] == b.local
        bob.sendto(rtp(2), b.local)
        assert (await recv(alice))[0] == rtp(2)
        assert a.endpoint == alice.getsockname()[:2]
    finally:
        relay.close()
        for sock in socks:
            sock.close()
