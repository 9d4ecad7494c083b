"""Acceptance: a WebRTC call keeps flowing across ``kill -9`` and a restart, without a new DTLS
handshake or ICE nomination (issue 14).  aiortc is the browser (its own ICE agent and
DTLS-SRTP), a plain UDP socket the SIP side; rtpgate stores the DTLS-SRTP keys, the SRTP
rollover counters and the selected ICE pair in Redis and the restarted node resumes with them.

The restarted node makes a new DTLS certificate, so a new handshake would fail aiortc's check
of the fingerprint it was given: media flowing again after the restart is the proof that none
happened.  The SIP side's sequence numbers wrap before the kill, so what rtpgate encrypts for
aiortc after the restart authenticates only with the stored rollover counter."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from calls import LOCAL, ng
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import media_ports
from rtpgate_redis import blob

aiortc = pytest.importorskip("aiortc", reason="aiortc (the browser-side peer) not installed")
aioice_ice = pytest.importorskip("aioice.ice")

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack  # noqa: E402

SSRC = 0x5EED
#: The SIP side's first sequence number: it wraps (rollover counter 1) before the kill.
FIRST_SEQ = 65536 - 60


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """aiortc gathers host candidates on every address; the test keeps to 127.0.0.1."""
    monkeypatch.setattr(aioice_ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LOCAL])
    yield


class Plain(asyncio.DatagramProtocol):
    """The SIP side: sends PCMU RTP to the relay every 20 ms, records the RTP it receives."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.transport: Any = None
        self.seq = FIRST_SEQ

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) >= 12 and data[0] >> 6 == 2 and not 192 <= data[1] <= 223:
            self.received.append(data)

    @property
    def port(self) -> int:
        return int(self.transport.get_extra_info("sockname")[1])

    async def send(self, relay: tuple[str, int], stop: asyncio.Event) -> None:
        while not stop.is_set():
            seq = self.seq & 0xFFFF
            self.transport.sendto(bytes([0x80, 0]) + seq.to_bytes(2, "big")
                                  + (self.seq * 160 & 0xFFFFFFFF).to_bytes(4, "big")
                                  + SSRC.to_bytes(4, "big") + b"\xff" * 160, relay)
            self.seq += 1
            await asyncio.sleep(0.02)


def plain_sdp(port: int) -> str:
    return (f"v=0\r\no=sip 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def relay_of(sdp: str) -> tuple[str, int]:
    port = re.search(r"^m=audio (\d+) ", sdp, re.M)
    assert port, sdp
    return LOCAL, int(port.group(1))


async def until(check: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return value


def audio_track(pc: RTCPeerConnection) -> Any:
    return next(r.track for r in pc.getReceivers() if r.track.kind == "audio")


async def frames(pc: RTCPeerConnection, count: int) -> None:
    """``count`` audio frames decoded by aiortc."""
    for _ in range(count):
        await asyncio.wait_for(audio_track(pc).recv(), 10)


async def drain(pc: RTCPeerConnection) -> int:
    """Take the frames aiortc decoded and queued so far (until none comes for a second)."""
    taken = 0
    while True:
        try:
            await asyncio.wait_for(audio_track(pc).recv(), 1.0)
        except TimeoutError:
            return taken
        taken += 1


def stored_resume(redis_server: RedisServer, call_id: str) -> dict[str, Any] | None:
    raw = redis_server.client(1).get(call_id)
    if raw is None:
        return None
    extras = blob.decode(raw)["rtpgate"]
    for key, entry in extras.items():
        if key.startswith("stream-") and "dtls_keys" in entry.get("resume", {}):
            resume: dict[str, Any] = entry["resume"]
            return resume
    return None


async def test_webrtc_call_resumes_after_kill_9(redis_server: RedisServer, node: Any) -> None:
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    call_id = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    _, plain = await loop.create_datagram_endpoint(Plain, local_addr=(LOCAL, 0))
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    stop = asyncio.Event()
    sender: asyncio.Future[None] | None = None
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = ng(server, "offer", call_id=call_id, from_tag="browser",
                   sdp=pc.localDescription.sdp, ICE="remove", DTLS="off",
                   transport_protocol="RTP/AVP", rtcp_mux=["demux"])
        assert offer["result"] == "ok", offer
        answer = ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                    sdp=plain_sdp(plain.port), ICE="force", DTLS="passive",
                    transport_protocol="UDP/TLS/RTP/SAVPF")
        assert answer["result"] == "ok", answer
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await until(lambda: pc.connectionState == "connected", what="aiortc connected")
        sender = asyncio.ensure_future(plain.send(relay_of(offer["sdp"]), stop))
        await frames(pc, 20)
        await until(lambda: len(plain.received) >= 20, what="RTP from aiortc")
        # past the SIP side's wrap: rtpgate's counter towards aiortc is 1 now
        await until(lambda: plain.seq > 65536 + 20, what="the sequence number wrap")
        resume = await until(lambda: (found := stored_resume(redis_server, call_id))
                             and f"{SSRC}=1" in found["rocs_out"] and found, what=(
                                 "the keys, the selected pair and the counter in Redis"))
        assert resume["ice_remote"].startswith(f"{LOCAL}:"), resume
        before = ng(server, "query", call_id=call_id)

        server.kill()
        killed = time.monotonic()
        assert await drain(pc) >= 20  # what came before the kill
        received = len(plain.received)
        server = node(*args)
        assert "resumed with the keys from before the restart" in server.log, server.log
        # aiortc's SRTP decrypted with the stored keys, and the SIP side's RTP, encrypted with
        # them and the stored counter, decoded by aiortc
        await until(lambda: len(plain.received) >= received + 20, what="RTP from aiortc again")
        await frames(pc, 20)
        print(f"media both ways again {time.monotonic() - killed:.2f} s after the kill")
        assert pc.connectionState == "connected"
        assert "handshake done" not in server.log, server.log  # no new DTLS handshake

        query = ng(server, "query", call_id=call_id)
        flags = query["tags"]["browser"]["medias"][0]["flags"]
        assert flags == before["tags"]["browser"]["medias"][0]["flags"], (flags, before)
        stream = query["tags"]["browser"]["medias"][0]["streams"][0]
        assert "DTLS fingerprint verified" in stream["flags"], stream
        assert stream["crypto suite"] == before["tags"]["browser"]["medias"][0]["streams"][0][
            "crypto suite"]
        assert ng(server, "delete", call_id=call_id, from_tag="browser")["result"] == "ok"
    finally:
        stop.set()
        if sender is not None:
            await sender
        await pc.close()
        plain.transport.close()
