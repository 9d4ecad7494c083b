"""WebRTC publish/subscribe with aiortc as the browser.

A WebRTC subscriber of a plain RTP publisher: ``subscribe request`` with ``ICE=force`` and
``UDP/TLS/RTP/SAVPF`` gets an offer with rtpgate's fingerprint, ICE credentials and candidates (as
rtpengine 10.5's); aiortc's answer completes ICE and DTLS with rtpgate on the subscription's own
port, and the publisher's tone reaches aiortc's track, decoded there.  A second, plain subscriber
of the same publisher gets it too.

A WebRTC publisher: aiortc's offer is published (answered with DTLS and ICE as 10.5 answers
it); aiortc sends a tone, a plain subscriber gets it in the clear and decodes it."""

from __future__ import annotations

import asyncio
import fractions
import math
import re
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from media_calls import LOCAL, ng
from rtpgate.testing import ServerProcess, media_ports
from test_pubsub import (
    RTP,
    TONE_HZ,
    Endpoint,
    Subscriber,
    check_tone,
    ok,
    packet,
    port_of,
    publish_sdp,
)

aiortc = pytest.importorskip("aiortc")
aioice_ice = pytest.importorskip("aioice.ice")

import av  # noqa: E402
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription  # noqa: E402


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(100))


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


class Tone(MediaStreamTrack):
    """An audio track of the test tone, 20 ms frames at 8 kHz, paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        wait = self.start + self.sent * 0.02 - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        times = np.arange(self.sent * 160, (self.sent + 1) * 160) / 8000
        samples = (8000 * np.sin(2 * np.pi * TONE_HZ * times)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 8000, self.sent * 160
        frame.time_base = fractions.Fraction(1, 8000)
        self.sent += 1
        return frame


async def test_webrtc_publisher_to_a_plain_subscriber(server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    listener = Endpoint()
    pc = RTCPeerConnection()
    pc.addTransceiver(Tone(), direction="sendonly")
    try:
        await pc.setLocalDescription(await pc.createOffer())
        reply = ok(ng(server, "publish", call_id=call_id, from_tag="browser",
                      sdp=pc.localDescription.sdp, codec={"accept": ["PCMU"]}))
        answer = reply["sdp"]
        assert " UDP/TLS/RTP/SAVPF 0\r\n" in answer and "a=recvonly\r\n" in answer, answer
        assert "a=setup:active\r\n" in answer and "a=rtcp-mux\r\n" in answer, answer
        # aiortc does not trickle: no a=ice-options:trickle; rtcp-mux: one component
        assert "trickle" not in answer and "a=ice-ufrag:" in answer, answer
        assert len(re.findall(r"^a=candidate:\S+ 1 UDP ", answer, re.M)) == 1, answer
        # a subscription copies its source's transport (as 10.5's): a SIP phone asks for RTP
        plain = Subscriber(server, call_id, "browser", listener, transport_protocol="RTP/AVP",
                           ICE="remove")
        assert " RTP/AVP 0\r\n" in plain.request["sdp"], plain.request["sdp"]
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

        got: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + 20
        while len(got) < 25:
            assert asyncio.get_running_loop().time() < deadline, len(got)
            await asyncio.sleep(0.05)
            listener.rtp.setblocking(False)
            try:
                while True:
                    got.append(listener.rtp.recv(4096))
            except BlockingIOError:
                pass
        heads = [RTP.unpack(p[:12]) for p in got]
        assert {h[1] & 0x7F for h in heads} == {0}, heads
        seqs = [h[2] for h in heads]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
        for payload in got[5:]:  # the encoder's first frames may ramp up
            check_tone(payload[12:])
    finally:
        await pc.close()
        ng(server, "delete", call_id=call_id)
        listener.close()
