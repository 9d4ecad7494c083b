"""WebRTC <-> plain RTP through a real rtpgate, with aiortc as the browser-side peer.

aiortc is a second, independent WebRTC stack (its own ICE agent, aioice, and DTLS-SRTP on
pyOpenSSL and libsrtp): it makes or answers the call with ``UDP/TLS/RTP/SAVPF``, rtpgate's ICE
agent and DTLS session complete with it on the relay's own port, and media is checked both ways
between aiortc's tracks and a plain RTP socket.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from media_calls import LOCAL, ng
from rtpgate.testing import ServerProcess, media_ports

aiortc = pytest.importorskip("aiortc")
aioice_ice = pytest.importorskip("aioice.ice")

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack  # noqa: E402

PCMU_SILENCE = bytes([0xFF]) * 160


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(200))


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """aiortc gathers host candidates on every non-loopback address; the tests keep all traffic
    on 127.0.0.1."""
    monkeypatch.setattr(aioice_ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LOCAL])
    yield


class Plain(asyncio.DatagramProtocol):
    """The SIP side's RTP endpoint: a UDP socket that records what it receives."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def rtp(self) -> list[bytes]:
        return [d for d in self.received if len(d) >= 12 and d[0] >> 6 == 2
                and not 192 <= d[1] <= 223]


async def plain_endpoint() -> Plain:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_datagram_endpoint(Plain, local_addr=(LOCAL, 0))
    return protocol


def plain_sdp(port: int) -> str:
    return (f"v=0\r\no=sip 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def relay_of(sdp: str) -> tuple[str, int]:
    port = re.search(r"^m=audio (\d+) ", sdp, re.M)
    host = re.findall(r"^c=IN IP4 (\S+)", sdp, re.M)
    assert port and host, sdp
    return host[-1], int(port.group(1))


def rtp_packet(seq: int, ssrc: int = 0x5EED) -> bytes:
    return (bytes([0x80, 0]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big")
            + ssrc.to_bytes(4, "big") + PCMU_SILENCE)


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def send_plain(plain: Plain, relay: tuple[str, int], stop: asyncio.Event) -> None:
    seq = 1
    assert plain.transport is not None
    while not stop.is_set():
        plain.transport.sendto(rtp_packet(seq), relay)
        seq += 1
        await asyncio.sleep(0.02)


async def frames_received(pc: RTCPeerConnection, count: int) -> int:
    track = next(r.track for r in pc.getReceivers() if r.track.kind == "audio")
    for _ in range(count):
        await asyncio.wait_for(track.recv(), 10)
    return count


def media_flags(query: dict[str, Any], tag: str) -> list[str]:
    flags: list[str] = query["tags"][tag]["medias"][0]["flags"]
    return flags


async def test_aiortc_offers_to_a_plain_rtp_endpoint(server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    plain = await plain_endpoint()
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    stop = asyncio.Event()
    try:
        await pc.setLocalDescription(await pc.createOffer())
        offer = ng(server, "offer", call_id=call_id, from_tag="browser",
                   sdp=pc.localDescription.sdp, ICE="remove", DTLS="off",
                   transport_protocol="RTP/AVP", rtcp_mux=["demux"])
        assert offer["result"] == "ok", offer
        assert "a=fingerprint" not in offer["sdp"] and "a=candidate" not in offer["sdp"]
        answer = ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                    sdp=plain_sdp(plain.port), ICE="force", DTLS="passive",
                    transport_protocol="UDP/TLS/RTP/SAVPF")
        assert answer["result"] == "ok", answer
        text = answer["sdp"]
        assert " UDP/TLS/RTP/SAVPF 0" in text and "a=setup:passive\r\n" in text, text
        assert re.search(r"^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r$", text, re.M)
        assert "a=candidate:" in text and "a=rtcp-mux" in text, text
        await pc.setRemoteDescription(RTCSessionDescription(text, "answer"))
        await until(lambda: pc.connectionState == "connected", what="aiortc connected")

        # plain RTP in, SRTP out to aiortc (which decrypts and decodes it)
        sender = asyncio.ensure_future(send_plain(plain, relay_of(offer["sdp"]), stop))
        assert await frames_received(pc, 20) == 20
        # aiortc's SRTP in, plain RTP (PCMU) out to the SIP side
        await until(lambda: len(plain.rtp()) >= 20, what="RTP from aiortc")
        assert all(packet[1] & 0x7F == 0 for packet in plain.rtp())
        stop.set()
        await sender

        query = ng(server, "query", call_id=call_id)
        flags = media_flags(query, "browser")
        assert {"DTLS-SRTP", "DTLS role passive", "ICE", "rtcp-mux"} <= set(flags), flags
        stream = query["tags"]["browser"]["medias"][0]["streams"][0]
        assert "DTLS fingerprint verified" in stream["flags"], stream
        assert stream["crypto suite"] in ("AEAD_AES_256_GCM", "AEAD_AES_128_GCM",
                                          "AES_CM_128_HMAC_SHA1_80"), stream
        assert stream["stats"]["packets"] >= 20 and stream["stats"]["errors"] == 0, stream
        assert "DTLS-SRTP" not in media_flags(query, "sip")
    finally:
        stop.set()
        await pc.close()
        assert plain.transport is not None
        plain.transport.close()


async def test_plain_rtp_endpoint_calls_aiortc(server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    plain = await plain_endpoint()
    pc = RTCPeerConnection()
    stop = asyncio.Event()
    try:
        offer = ng(server, "offer", call_id=call_id, from_tag="sip", sdp=plain_sdp(plain.port),
                   ICE="force", transport_protocol="UDP/TLS/RTP/SAVPF",
                   rtcp_mux=["offer", "require"], flags=["generate-mid"])
        assert offer["result"] == "ok", offer
        assert "a=setup:actpass\r\n" in offer["sdp"], offer["sdp"]

        @pc.on("track")
        def on_track(track: Any) -> None:
            pass

        pc.addTrack(AudioStreamTrack())
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = ng(server, "answer", call_id=call_id, from_tag="sip", to_tag="browser",
                    sdp=pc.localDescription.sdp, ICE="remove", DTLS="off",
                    transport_protocol="RTP/AVP", rtcp_mux=["demux"])
        assert answer["result"] == "ok", answer
        assert "a=fingerprint" not in answer["sdp"], answer["sdp"]
        await until(lambda: pc.connectionState == "connected", what="aiortc connected")

        sender = asyncio.ensure_future(send_plain(plain, relay_of(answer["sdp"]), stop))
        assert await frames_received(pc, 20) == 20
        await until(lambda: len(plain.rtp()) >= 20, what="RTP from aiortc")
        stop.set()
        await sender
        query = ng(server, "query", call_id=call_id)
        flags = media_flags(query, "browser")
        assert {"DTLS-SRTP", "ICE", "ICE controlling"} <= set(flags), flags
    finally:
        stop.set()
        await pc.close()
        assert plain.transport is not None
        plain.transport.close()
