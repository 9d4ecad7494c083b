"""The per-stream media pipeline on real loopback sockets: ingress and egress stages, drops
counted by stage, STUN and DTLS demultiplexed to a stream's handlers (RFC 7983)."""

from __future__ import annotations

import socket

from media_packets import rtcp_rr, rtp
from rtpgate.media import Pipeline, RelayStream
from test_relay_streams import Call, call, nothing, recv

__all__ = ["call"]


class Tag:
    """A stage that appends its name to RTP and RTCP (so order is visible), or drops."""

    def __init__(self, name: str, drop_seq: int | None = None, error: bool = True) -> None:
        self.name = name
        self.error = False
        self._drop_seq = drop_seq
        self._bad = error
        self.seen = 0

    def rtp(self, data: bytes) -> bytes | None:
        self.seen += 1
        if self._drop_seq is not None and int.from_bytes(data[2:4], "big") == self._drop_seq:
            self.error = self._bad
            return None
        return data + self.name.encode()

    def rtcp(self, data: bytes) -> bytes | None:
        return data + self.name.encode()


class Recorder:
    """A STUN or DTLS handler that records and answers."""

    def __init__(self, reply: bytes) -> None:
        self.got: list[tuple[bytes, tuple[str, int]]] = []
        self.reply = reply

    def datagram(self, stream: RelayStream, data: bytes, source: tuple[str, int]) -> None:
        self.got.append((data, source))
        stream.send_to(self.reply, source)


async def test_stages_run_in_order_ingress_then_egress_and_change_sizes(call: Call) -> None:
    call.a.set_pipeline(Pipeline(ingress=(Tag("i1"), Tag("i2"))))
    call.b.set_pipeline(Pipeline(egress=(Tag("e1"),)))
    call.send_a(rtp(1))
    data, source = await recv(call.bob)
    assert data == rtp(1) + b"i1i2e1"
    assert source == call.b.local
    assert call.b.stats_out.bytes == len(rtp(1)) + 6
    assert call.a.stats_in.bytes == len(rtp(1))
    # the other direction has no stage: unchanged
    call.send_b(rtp(2))
    assert (await recv(call.alice))[0] == rtp(2)
    call.send_a(rtcp_rr(5))
    assert (await recv(call.bob))[0] == rtcp_rr(5) + b"i1i2e1"


async def test_a_stage_drop_is_counted_by_stage_and_as_an_error_when_bad(call: Call) -> None:
    bad, quiet = Tag("auth", drop_seq=2), Tag("player", drop_seq=3, error=False)
    call.a.set_pipeline(Pipeline(ingress=(bad, quiet)))
    for seq in range(1, 5):
        call.send_a(rtp(seq))
    got = [(await recv(call.bob))[0] for _ in range(2)]
    assert got == [rtp(1) + b"authplayer", rtp(4) + b"authplayer"]
    await nothing(call.bob)
    assert call.a.drops.stages == {"auth": 1, "player": 1}
    assert call.a.stats_in.errors == 1
    assert call.a.stats_in.packets == 4
    assert call.b.stats_out.packets == 2


async def test_an_empty_pipeline_is_the_plain_fast_path(call: Call) -> None:
    call.a.set_pipeline(Pipeline())
    assert call.a.pipeline is None
    call.send_a(rtp(7))
    assert (await recv(call.bob))[0] == rtp(7)


async def test_stun_and_dtls_go_to_their_handlers(call: Call) -> None:
    stun_h, dtls_h = Recorder(b"\x01\x01stun-reply"), Recorder(b"\x16dtls-reply")
    call.a.set_pipeline(Pipeline(stun=stun_h, dtls=dtls_h))
    binding = (b"\x00\x01\x00\x00" + b"\x21\x12\xa4\x42" + b"T" * 12)
    hello = b"\x16\xfe\xfd" + b"\x00" * 10 + b"hello"
    call.send_a(binding)
    call.send_a(hello)
    assert (await recv(call.alice))[0] == b"\x01\x01stun-reply"
    assert (await recv(call.alice))[0] == b"\x16dtls-reply"
    assert stun_h.got == [(binding, call.alice.getsockname())]
    assert dtls_h.got == [(hello, call.alice.getsockname())]
    assert call.a.stats_out.packets == 2
    assert call.a.stats_in.errors == 0
    await nothing(call.bob)
    # media still flows through a stream that has handlers but no stages
    call.send_a(rtp(1))
    assert (await recv(call.bob))[0] == rtp(1)


async def test_dtls_without_a_handler_is_malformed(call: Call) -> None:
    call.send_a(b"\x16\xfe\xfd" + b"\x00" * 10 + b"hello")
    await nothing(call.bob)
    assert call.a.drops.malformed == 1
    assert call.a.stats_in.errors == 1


async def test_a_handler_can_move_the_endpoint(call: Call) -> None:
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.setblocking(False)
    try:
        call.b.learn_endpoint(other.getsockname(), True)
        call.send_a(rtp(9))
        assert (await recv(other))[0] == rtp(9)
        assert call.b.confirmed
    finally:
        other.close()
