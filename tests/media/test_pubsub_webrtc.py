"""A WebRTC subscriber of a plain RTP publisher, with aiortc as the browser: ``subscribe
request`` with ``ICE=force`` and ``UDP/TLS/RTP/SAVPF`` gets an offer with rtpgate's fingerprint,
ICE credentials and candidates (as rtpengine 10.5's); aiortc's answer completes ICE and DTLS with
rtpgate on the subscription's own port, and the publisher's tone reaches aiortc's track, decoded
there.  A second, plain subscriber of the same publisher gets it too."""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from media_calls import LOCAL, ng
from rtpgate.testing import ServerProcess
from test_pubsub import TONE_HZ, Endpoint, Subscriber, ok, packet, port_of, publish_sdp

aiortc = pytest.importorskip("aiortc")
aioice_ice = pytest.importorskip("aioice.ice")

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", "--port-min=47400", "--port-max=47499")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """aiortc gathers host candidates on every address; the test keeps to 127.0.0.1."""
    monkeypatch.setattr(aioice_ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LOCAL])
    yield


def tone_share(samples: list[int], rate: int) -> float:
    """The share of the samples' energy at the test tone (Goertzel)."""
    coeff = 2 * math.cos(2 * math.pi * TONE_HZ / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    energy = sum(x * x for x in samples) * len(samples) / 2
    return power / energy if energy else 0.0


async def test_webrtc_subscriber_gets_the_tone(server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    publisher, plain_end = Endpoint(), Endpoint()
    pc = RTCPeerConnection()
    stop = asyncio.Event()
    try:
        reply = ok(ng(server, "publish", call_id=call_id, from_tag="pub",
                      sdp=publish_sdp(publisher.port, "0")))
        relay = (LOCAL, port_of(reply["sdp"]))
        request = ok(ng(server, "subscribe request", call_id=call_id, from_tag="pub",
                        ICE="force", transport_protocol="UDP/TLS/RTP/SAVPF",
                        rtcp_mux=["offer"]))
        offer = request["sdp"]
        assert " UDP/TLS/RTP/SAVPF 0\r\n" in offer and "a=setup:actpass\r\n" in offer, offer
        assert re.search(r"^a=fingerprint:sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}\r$", offer,
                         re.M), offer
        assert re.search(r"^a=ice-ufrag:\S+\r$", offer, re.M), offer
        assert len(re.findall(r"^a=candidate:\S+ [12] UDP \d+ 127\.0\.0\.1 \d+ typ host\r$",
                              offer, re.M)) == 2, offer
        assert "a=rtcp-mux\r\n" in offer and "a=sendonly\r\n" in offer, offer
        plain = Subscriber(server, call_id, "pub", plain_end)

        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        ok(ng(server, "subscribe answer", call_id=call_id, to_tag=request["to-tag"],
              sdp=pc.localDescription.sdp))

        async def send() -> None:
            seq = 1
            while not stop.is_set():
                publisher.rtp.sendto(packet(seq), relay)
                seq += 1
                await asyncio.sleep(0.02)

        sender = asyncio.ensure_future(send())
        track = next(r.track for r in pc.getReceivers() if r.track.kind == "audio")
        shares = []
        for _ in range(25):
            frame = await asyncio.wait_for(track.recv(), 15)
            samples = [int(x) for x in frame.to_ndarray().flatten()]
            if any(samples):
                shares.append(tone_share(samples, frame.sample_rate))
        assert len(shares) >= 10 and min(shares) > 0.8, shares
        stop.set()
        await sender
        # the plain subscriber got the same packets meanwhile
        assert plain.receive()[:2] == b"\x80\x00"
    finally:
        stop.set()
        await pc.close()
        ng(server, "delete", call_id=call_id)
        publisher.close()
        plain_end.close()
