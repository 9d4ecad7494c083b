"""The native read loop (rtpgate.media._fastrelay) on real loopback sockets: what it relays
itself (plain RTP, SRTP <-> RTP through pylibsrtp's libsrtp session), and that whatever needs
Python (STUN, a new source, a new SSRC, RTCP, a tampered packet, a changed route) still gets the
Python relay's handling.  Without the extension (``tox -e pure``, or ``RTPGATE_NATIVE_RELAY=0``)
the same packets must give the same results through the Python loop; the tests that look at the
native reader's own counters check that it is (or is not) in use as the environment says.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import pylibsrtp
import pytest
from aioice import stun
from media_packets import rtcp_rr, rtp
from rtpgate.media import IceCredentials, Learning, Pipeline, native
from rtpgate.media.srtp import SrtpDecrypt, SrtpEncrypt
from test_relay_streams import Call, binding_request, call, nothing, recv, udp

__all__ = ["call"]

KEY = bytes(range(16))
SALT = bytes(range(100, 114))
#: set by the environments that must (1) or must not (0) run the native loop
EXPECT = os.environ.get("RTPGATE_EXPECT_NATIVE")


def confirm(call: Call) -> None:
    """Both parties' first packet confirms their address at once."""
    call.a.configure(learning=Learning.IMMEDIATE)
    call.b.configure(learning=Learning.IMMEDIATE)


def native_packets(call: Call) -> int:
    """Packets the native readers of the call's two ports relayed themselves (0 without)."""
    return sum(getattr(call.relay.readers[fd], "native_packets", 0)
               for fd in (*call.a.fds, *call.b.fds))


def test_the_native_loop_is_in_use_as_the_environment_says() -> None:
    if EXPECT is None:
        pytest.skip("RTPGATE_EXPECT_NATIVE not set: either relay is fine here")
    assert native.enabled() is (EXPECT == "1")


async def test_plain_rtp_is_relayed_and_counted_as_python_counts_it(call: Call) -> None:
    confirm(call)
    for seq in range(40):
        call.send_a(rtp(seq))
        data, source = await recv(call.bob)
        assert data == rtp(seq)
        assert source == call.b.local
    for seq in range(10):
        call.send_b(rtp(seq, ssrc=7))
        assert (await recv(call.alice))[0] == rtp(seq, ssrc=7)
    size = len(rtp(0))
    assert (call.a.stats_in.packets, call.a.stats_in.bytes) == (40, 40 * size)
    assert (call.b.stats_out.packets, call.b.stats_out.bytes) == (40, 40 * size)
    assert (call.b.stats_in.packets, call.a.stats_out.packets) == (10, 10)
    assert call.stats.relayed.packets == 50
    assert call.a.stats_in.errors == call.b.stats_out.errors == 0
    assert time.time() - call.a.last_packet < 5
    assert call.a.ssrcs == [0x11223344] and call.b.ssrcs == [7]
    if call.relay.native:
        # the first packet of each direction confirmed the source and SSRC in Python
        assert native_packets(call) == 48


async def test_a_burst_leaves_in_order_with_every_packet_counted(call: Call) -> None:
    confirm(call)
    call.send_a(rtp(0))
    await recv(call.bob)
    for seq in range(1, 200):
        call.send_a(rtp(seq))
    got = [(await recv(call.bob))[0] for _ in range(199)]
    assert got == [rtp(seq) for seq in range(1, 200)]
    assert call.a.stats_in.packets == call.b.stats_out.packets == 200


async def test_stun_and_rtcp_on_a_native_port_get_python_handling(call: Call) -> None:
    confirm(call)
    call.a.configure(rtcp_mux=True)
    call.a.link(call.b, call.b)
    call.a.set_ice(IceCredentials("rtpgUfrag", "rtpgatePasswordOf22chars", "peer"))
    for seq in range(3):
        call.send_a(rtp(seq))
        await recv(call.bob)
    call.send_a(bytes(binding_request("rtpgUfrag:peer", "rtpgatePasswordOf22chars", False)))
    reply = stun.parse_message((await recv(call.alice))[0])
    assert reply.message_class == stun.Class.RESPONSE
    assert call.a.stun_answered == 1
    call.send_a(rtcp_rr(0x11223344, tag=9))
    assert (await recv(call.bob))[0] == rtcp_rr(0x11223344, tag=9)
    assert 0xABCDEF01 in call.a.rtcp_reports
    call.send_a(rtp(3))
    assert (await recv(call.bob))[0] == rtp(3)
    assert call.a.stats_in.packets == 5  # RTP and RTCP; STUN is not media


async def test_a_new_source_is_learnt_by_python_and_then_relayed(call: Call) -> None:
    confirm(call)
    call.a.configure(media_handover=True)
    call.send_a(rtp(0))
    await recv(call.bob)
    call.send_b(rtp(0, ssrc=5))
    assert (await recv(call.alice))[0] == rtp(0, ssrc=5)
    moved = udp()
    try:
        before = native_packets(call)
        call.send_a(rtp(1), moved)
        assert (await recv(call.bob))[0] == rtp(1)
        assert call.a.endpoint == moved.getsockname() and call.a.confirmed
        call.send_b(rtp(1, ssrc=5))  # now goes to the new address
        assert (await recv(moved))[0] == rtp(1, ssrc=5)
        await nothing(call.alice)
        for seq in range(2, 6):
            call.send_a(rtp(seq), moved)
            assert (await recv(call.bob))[0] == rtp(seq)
        if call.relay.native:
            assert native_packets(call) - before == 5  # all but the first from the new port
    finally:
        moved.close()


async def test_strict_source_drops_a_stranger_on_a_native_port(call: Call) -> None:
    confirm(call)
    call.a.configure(strict_source=True)
    call.send_a(rtp(0))
    await recv(call.bob)
    stranger = udp()
    try:
        call.send_a(rtp(1), stranger)
        await nothing(call.bob)
        assert call.a.drops.strict_source == 1
        assert call.a.stats_in.errors == 1
    finally:
        stranger.close()
    call.send_a(rtp(2))
    assert (await recv(call.bob))[0] == rtp(2)


async def test_a_route_changed_from_python_applies_to_the_next_packet(call: Call) -> None:
    confirm(call)
    call.send_a(rtp(0))
    await recv(call.bob)
    call.send_a(rtp(1))
    await recv(call.bob)
    other = udp()
    try:
        call.b.fill(other.getsockname())  # the engine moved B's party
        call.send_a(rtp(2))
        assert (await recv(other))[0] == rtp(2)
        await nothing(call.bob)
        call.a.link(None)  # unlinked: unrouted, counted as an error
        call.send_a(rtp(3))
        await nothing(other)
        assert call.a.drops.unrouted == 1
    finally:
        other.close()


def srtp_session(outbound: bool) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(
        key=KEY + SALT, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        ssrc_type=(pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound
                   else pylibsrtp.Policy.SSRC_ANY_INBOUND))
    return pylibsrtp.Session(policy)


async def test_srtp_to_rtp_and_back_through_libsrtp_with_tampering_counted(call: Call) -> None:
    """A speaks SRTP (its key for both directions, as a test shortcut), B plain RTP."""
    confirm(call)
    decrypt = SrtpDecrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
    encrypt = SrtpEncrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
    call.a.set_pipeline(Pipeline(ingress=(decrypt,), egress=(encrypt,)))
    sender, receiver = srtp_session(True), srtp_session(False)
    for seq in range(30):
        call.send_a(sender.protect(rtp(seq)))
        assert (await recv(call.bob))[0] == rtp(seq)
        call.send_b(rtp(seq, ssrc=9))
        assert receiver.unprotect((await recv(call.alice))[0]) == rtp(seq, ssrc=9)
    assert call.a.stats_in.bytes == 30 * (len(rtp(0)) + 10)
    assert call.a.stats_out.bytes == 30 * (len(rtp(0)) + 10)
    tampered = bytearray(sender.protect(rtp(30)))
    tampered[20] ^= 1
    call.send_a(bytes(tampered))
    await nothing(call.bob)
    assert decrypt.counters.auth_failures == 1
    assert call.a.drops.stages == {"srtp-decrypt": 1}
    assert call.a.stats_in.errors == 1
    replayed = sender.protect(rtp(31))
    call.send_a(replayed)
    assert (await recv(call.bob))[0] == rtp(31)
    call.send_a(replayed)
    await nothing(call.bob)
    assert decrypt.counters.replayed == 1
    assert call.a.stats_in.errors == 2
    # the session Python holds saw what the native loop did: its rollover state is shared
    assert decrypt.rocs([0x11223344]) == {0x11223344: 0}
    if call.relay.native:
        assert native_packets(call) >= 58


async def test_a_stage_python_does_keeps_the_stream_in_python(call: Call) -> None:
    confirm(call)
    decrypt = SrtpDecrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
    call.a.set_pipeline(Pipeline(ingress=(decrypt, _Upper())))
    sender = srtp_session(True)
    for seq in range(5):
        call.send_a(sender.protect(rtp(seq, payload=b"a" * 20)))
        assert (await recv(call.bob))[0] == rtp(seq, payload=b"a" * 20).upper()
    assert native_packets(call) == 0


class _Upper:
    """A stage the native loop does not know (upper-cases the whole datagram)."""

    name = "upper"
    error = False

    def rtp(self, data: bytes) -> bytes | None:
        return data.upper()

    def rtcp(self, data: bytes) -> bytes | None:
        return data


async def test_closed_stream_relays_nothing(call: Call) -> None:
    confirm(call)
    call.send_a(rtp(0))
    await recv(call.bob)
    call.b.release()
    call.send_a(rtp(1))
    await nothing(call.bob)
    assert call.a.drops.unrouted == 1


class _ReadOnly:
    """What the native reader may call on its stream when it must not route: read only."""

    def __init__(self) -> None:
        self.read_data: list[bytes] = []

    def read(self, recvfrom: Callable[[int], tuple[bytes, object]]) -> None:
        self.read_data.append(recvfrom(4096)[0])

    def _native_route(self) -> None:
        raise AssertionError("a socket that is not IP was given a native route")


def test_a_socket_that_is_not_ip_is_read_by_python() -> None:
    """Under an LD_PRELOAD that swaps the relay's sockets for AF_UNIX ones (rtpengine's
    autotest harness), recvmmsg and sendmmsg would see the addresses that library translates
    for Python's recvfrom and sendto: such a socket is read by the stream's Python ``read``."""
    if not native.built():
        pytest.skip("the native read loop is not built here")
    assert native.Reader is not None
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with left, right:
        stream = _ReadOnly()
        reader = native.Reader(right.fileno(), stream, right.recvfrom)
        for seq in range(3):
            left.send(rtp(seq))
            reader()
        assert stream.read_data == [rtp(seq) for seq in range(3)]
        assert (reader.native_packets, reader.handed_packets, reader.routed) == (0, 0, False)
