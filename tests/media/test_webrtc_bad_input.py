"""Hostile or broken WebRTC input on the relay: each is ignored or refused with a log line and a
counter, the stream (or only that stream) stops, and every other call keeps talking.

The counters are read from ``/metrics`` (``rtpgate_dtls_*``, ``rtpgate_ice_*``); the log lines
from the server's log.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from media_calls import LOCAL, Call, ng
from rtpgate.media import dtls as dtls_module
from rtpgate.media.dtls import DtlsSession, make_certificate
from rtpgate.testing import ServerProcess, media_ports

pytest.importorskip("aiortc")
import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from test_webrtc_aiortc import (
    plain_endpoint,
    plain_sdp,
    relay_of,
    send_plain,
    until,
)


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(200))


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LOCAL])
    yield


def counter(server: ServerProcess, name: str) -> float:
    status, _, body = server.http("GET", "/metrics")
    assert status == 200
    found = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def plain_call_works(server: ServerProcess) -> None:
    """Another call on the same server relays media both ways."""
    call = Call(server)
    try:
        call.connect()
        packet = bytes([0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7]) + b"\xff" * 160
        call.alice.send(packet)
        assert call.bob.rtp.recvfrom(4096)[0] == packet
        call.bob.send(packet)
        assert call.alice.rtp.recvfrom(4096)[0] == packet
    finally:
        call.close()


async def webrtc_call(server: ServerProcess, tamper: Callable[[str], str] = lambda s: s
                      ) -> tuple[RTCPeerConnection, Any, dict[str, Any], str]:
    """aiortc offers through rtpgate to a plain endpoint (the browser test's flags);
    ``tamper`` changes aiortc's SDP on its way to rtpgate."""
    call_id = uuid.uuid4().hex
    plain = await plain_endpoint()
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    offer = ng(server, "offer", call_id=call_id, from_tag="browser",
               sdp=tamper(pc.localDescription.sdp), ICE="remove", DTLS="off",
               transport_protocol="RTP/AVP", rtcp_mux=["demux"])
    assert offer["result"] == "ok", offer
    answer = ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                sdp=plain_sdp(plain.port), ICE="force", DTLS="passive",
                transport_protocol="UDP/TLS/RTP/SAVPF")
    assert answer["result"] == "ok", answer
    offer["call-id"] = call_id
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return pc, plain, offer, answer["sdp"]


def wrong_fingerprint(sdp: str) -> str:
    return re.sub(r"^(a=fingerprint:\S+ )(\S+)", lambda m: m.group(1) + re.sub(
        r"[0-9A-F]", "A", m.group(2)), sdp, flags=re.M)


async def test_fingerprint_mismatch_fails_that_stream_only(server: ServerProcess) -> None:
    before = counter(server, "rtpgate_dtls_fingerprint_mismatches_total")
    pc, plain, offer, _ = await webrtc_call(server, wrong_fingerprint)
    stop = asyncio.Event()
    try:
        await until(lambda: counter(server, "rtpgate_dtls_fingerprint_mismatches_total")
                    > before, what="the mismatch counted")
        sender = asyncio.ensure_future(send_plain(plain, relay_of(offer["sdp"]), stop))
        await asyncio.sleep(1.0)
        stop.set()
        await sender
        assert plain.rtp() == [], "media of an unverified peer reached the SIP side"
        query = ng(server, "query", call_id=offer["call-id"])
        stream = query["tags"]["browser"]["medias"][0]["streams"][0]
        assert "DTLS fingerprint verified" not in stream["flags"], stream
        assert "does not match a=fingerprint" in server.log
        plain_call_works(server)
    finally:
        stop.set()
        await pc.close()
        plain.transport.close()


async def test_dtls_garbage_is_ignored_and_the_handshake_still_completes(
        server: ServerProcess) -> None:
    before = counter(server, "rtpgate_dtls_bad_datagrams_total")
    pc, plain, offer, answer = await webrtc_call(server)
    relay = relay_of(answer)
    stop = asyncio.Event()
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # DTLS-looking garbage (first byte 20-63) from a stranger, before and during the
        # handshake
        for first in (20, 22, 23, 40, 63):
            junk.sendto(bytes([first]) + b"\xfe\xfd" + b"\x00" * 10 + b"garbage" * 20, relay)
        await until(lambda: pc.connectionState == "connected", what="aiortc connected")
        for first in (20, 22, 63):
            junk.sendto(bytes([first]) + b"\x01" * 60, relay)
        await until(lambda: counter(server, "rtpgate_dtls_bad_datagrams_total") >= before + 8,
                    what="garbage counted")
        sender = asyncio.ensure_future(send_plain(plain, relay_of(offer["sdp"]), stop))
        track = next(r.track for r in pc.getReceivers() if r.track.kind == "audio")
        for _ in range(10):
            await asyncio.wait_for(track.recv(), 10)
        await until(lambda: len(plain.rtp()) >= 10, what="RTP from aiortc")
        stop.set()
        await sender
        assert "DTLS" in server.log and "datagram ignored" in server.log
    finally:
        stop.set()
        junk.close()
        await pc.close()
        plain.transport.close()


class _SocketStream:
    """The part of a relay stream a DTLS session sends through, on a real UDP socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send_to(self, data: bytes, address: tuple[str, int]) -> bool:
        self.sock.sendto(data, address)
        return True


async def test_a_handshake_that_never_completes_fails_after_retransmissions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dtls_module, "HANDSHAKE_TIMEOUT", 2.5)
    ours = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ours.bind((LOCAL, 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # receives, never answers
    silent.bind((LOCAL, 0))
    silent.setblocking(False)
    failures: list[str] = []
    timeouts = dtls_module.STATS.timeouts
    session = DtlsSession(make_certificate(), True, None, on_keys=lambda _: None,
                          on_failed=failures.append, label="never")
    try:
        session.start(_SocketStream(ours), silent.getsockname())  # type: ignore[arg-type]
        hellos = 0
        deadline = time.monotonic() + 10
        while not failures and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            try:
                while True:
                    data = silent.recv(4096)
                    hellos += data[0] == 22  # a handshake record: the ClientHello again
            except BlockingIOError:
                pass
        assert failures and "not complete" in failures[0]
        assert session.state == "failed"
        assert hellos >= 2, "the ClientHello was not retransmitted"
        assert dtls_module.STATS.timeouts == timeouts + 1
    finally:
        session.close()
        ours.close()
        silent.close()


FLOOD = """
import socket, sys, time
from aioice import stun
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
target, end = ("127.0.0.1", int(sys.argv[1])), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    request.attributes.update({"USERNAME": sys.argv[3] + ":x", "PRIORITY": 1})
    request.add_message_integrity(b"not-the-password")
    try:
        sock.sendto(bytes(request), target)
    except OSError:
        pass
"""


def test_stun_flood_and_bad_integrity_are_counted_and_media_keeps_flowing(
        server: ServerProcess) -> None:
    call = Call(server)
    try:
        pwd = "Vb8nQw4eLr6TyU1iOp3aSd7f"
        bob_ice = (f"a=ice-ufrag:bobs\r\na=ice-pwd:{pwd}\r\n"
                   f"a=candidate:1 1 UDP 2130706431 {LOCAL} {call.bob.port} typ host\r\n")
        from media_calls import sdp
        call.connect(ICE="force", bob_sdp=sdp("bob", call.bob.port, bob_ice))
        ufrag = re.search(r"a=ice-ufrag:(\S+)", call.offer_reply["sdp"])
        assert ufrag
        rejected = counter(server, "rtpgate_ice_stun_rejected_total")
        dropped = counter(server, "rtpgate_ice_stun_flood_dropped_total")
        flood = subprocess.run([sys.executable, "-c", FLOOD, str(call.bob.relay[1]), "2",
                                ufrag.group(1)], timeout=30)
        assert flood.returncode == 0
        assert counter(server, "rtpgate_ice_stun_rejected_total") > rejected
        assert counter(server, "rtpgate_ice_stun_flood_dropped_total") > dropped
        assert "STUN check flood" in server.log
        assert "wrong credentials or MESSAGE-INTEGRITY" in server.log
        plain_call_works(server)
    finally:
        call.close()
