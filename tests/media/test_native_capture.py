"""A stage that only copies packets to a pcap capture (its ``capture``: a view of a
:class:`rtpgate.media.native.Capture`) keeps its stream on the native read loop, which records
what it relays into the same buffer the stage fills on the Python path, in order, decrypted; a
capture stage that is not the last ingress stage keeps the stream in Python.  Without the
extension (``tox -e pure``, ``RTPGATE_NATIVE_RELAY=0``) there is no capture and the stage does
it all in Python: the same packets are recorded."""

from __future__ import annotations

import struct

import pytest
from media_packets import rtp
from rtpgate.media import Pipeline, native
from rtpgate.media.srtp import SrtpDecrypt
from test_native_relay import KEY, SALT, confirm, native_packets, srtp_session
from test_relay_streams import Call, call, recv

__all__ = ["call"]


class Copying:
    """A recording stage: each packet goes to ``capture`` (a stream view) or, without the
    extension, to a list."""

    name = "copying"
    error = False

    def __init__(self, call: Call, limit: int = 1000, flush_at: int = 0) -> None:
        self.local = call.a.local
        self.source = call.alice.getsockname()
        self.flushes = 0
        self.root = native.capture(limit, False, flush_at, self._full)
        self.capture = None if self.root is None else self.root.stream(*self.local)
        self.copied: list[bytes] = []
        self.rtp = self.rtcp = self._copy

    def _full(self) -> None:
        self.flushes += 1
        assert self.root is not None
        self.copied += _payloads(self.root.take()[0])

    def _copy(self, data: bytes) -> bytes:
        if self.capture is None:
            self.copied.append(data)
        else:
            self.capture.add(data, *self.source)
        return data

    def recorded(self) -> list[bytes]:
        if self.root is not None:
            self.copied += _payloads(self.root.take()[0])
        return self.copied


def _payloads(records: bytes) -> list[bytes]:
    """The UDP payloads of raw (IPv4) pcap records."""
    out, at = [], 0
    while at < len(records):
        captured = struct.unpack_from("!I", records, at + 8)[0]
        out.append(records[at + 16 + 28:at + 16 + captured])
        at += 16 + captured
    return out


async def test_a_captured_stream_is_relayed_natively_and_every_packet_recorded(
        call: Call) -> None:
    confirm(call)
    stage = Copying(call)
    call.a.set_pipeline(Pipeline(ingress=(stage,)))
    sent = [rtp(seq, payload=bytes([seq]) * 160) for seq in range(30)]
    sent.insert(10, rtp(10, ssrc=99))  # a new SSRC: Python relays it, and records it
    for packet in sent:
        call.send_a(packet)
        assert (await recv(call.bob))[0] == packet
    assert stage.recorded() == sent
    if call.relay.native:
        # Python relays the first packet, the new SSRC's and the first of the old one again
        assert native_packets(call) == len(sent) - 3
    else:
        assert native_packets(call) == 0


async def test_srtp_is_recorded_decrypted_by_the_native_loop(call: Call) -> None:
    confirm(call)
    stage = Copying(call)
    decrypt = SrtpDecrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
    call.a.set_pipeline(Pipeline(ingress=(decrypt, stage)))
    sender = srtp_session(True)
    sent = [rtp(seq) for seq in range(20)]
    for packet in sent:
        call.send_a(sender.protect(packet))
        assert (await recv(call.bob))[0] == packet
    assert stage.recorded() == sent
    assert native_packets(call) == (len(sent) - 1 if call.relay.native else 0)


async def test_a_capture_before_another_stage_keeps_the_stream_in_python(call: Call) -> None:
    confirm(call)
    stage = Copying(call)
    decrypt = SrtpDecrypt.keyed("AES_CM_128_HMAC_SHA1_80", KEY, SALT)
    call.a.set_pipeline(Pipeline(ingress=(stage, decrypt)))  # it would see SRTP: no route
    sender = srtp_session(True)
    sent = [sender.protect(rtp(seq)) for seq in range(5)]
    for seq, packet in enumerate(sent):
        call.send_a(packet)
        assert (await recv(call.bob))[0] == rtp(seq)
    assert stage.recorded() == sent
    assert native_packets(call) == 0


async def test_a_full_capture_is_handed_over_and_a_bounded_one_counts_drops(
        call: Call) -> None:
    if not call.relay.native:
        pytest.skip("the capture is the native loop's (tox -e pure: the stage records all)")
    confirm(call)
    stage = Copying(call, flush_at=2000)
    call.a.set_pipeline(Pipeline(ingress=(stage,)))
    sent = [rtp(seq) for seq in range(40)]
    for packet in sent:
        call.send_a(packet)
        assert (await recv(call.bob))[0] == packet
    assert stage.flushes >= 3  # 216 bytes a record: every ten packets or so
    assert stage.recorded() == sent
    small = Copying(call, limit=5)
    call.a.set_pipeline(Pipeline(ingress=(small,)))
    for packet in sent[:8]:
        call.send_a(packet)
        assert (await recv(call.bob))[0] == packet
    assert small.root is not None
    records, count, natively, dropped = small.root.take()
    assert (count, dropped) == (5, 3) and natively >= 4
    assert _payloads(records) == sent[:5]
