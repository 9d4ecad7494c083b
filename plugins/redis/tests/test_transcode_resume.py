"""Acceptance: a transcoded call keeps transcoding after ``kill -9`` and a restart (issue 14).
The transcoding plugin builds its codec chains from the call model, which is stored (the codecs
each party was given and sent, with fmtp, the transcoding flags, ptime, codec-set), so the
restored call gets its chains again on its first sync.  A PCMU-only caller and a PCMA-only
callee: what each receives must be in its own codec, before and after the restart."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from calls import LOCAL, ng, relay_port, wait_for
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import media_ports

pytest.importorskip("rtpgate_transcode", reason="the transcoding plugin is not installed")

#: Near-silence in each codec: mu-law 0xFF (0) is A-law 0xD5 (+8), which is mu-law 0xFE; the
#: other codec's bytes (or the sender's own, untranscoded) are not in these sets.
MU_SILENCE = {0xFF, 0x7F, 0xFE, 0x7E}
A_SILENCE = {0xD5, 0x55}


def party() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCAL, 0))
    sock.setblocking(False)
    return sock


def sdp(port: int, pt: int, name: str) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {name}/8000\r\na=sendrecv\r\n")


class Direction:
    """One side sending G.711 silence to the relay, the other collecting what arrives."""

    def __init__(self, sender: socket.socket, relay: int, pt: int, silence: int,
                 receiver: socket.socket) -> None:
        self.sender, self.relay, self.pt, self.silence = sender, relay, pt, silence
        self.receiver = receiver
        self.seq = 0

    def send(self) -> None:
        self.seq += 1
        self.sender.sendto(bytes([0x80, self.pt]) + self.seq.to_bytes(2, "big")
                           + (self.seq * 160).to_bytes(4, "big") + b"\0\0\x12\x34"
                           + bytes([self.silence]) * 160, (LOCAL, self.relay))

    def received(self) -> list[bytes]:
        got = []
        while True:
            try:
                got.append(self.receiver.recv(2048))
            except BlockingIOError:
                return got


def transcoded(directions: list[tuple[Direction, int, set[int], int]], count: int = 20
               ) -> bool:
    """Each direction's receiver gets ``count`` packets in its own payload type whose payload
    is the silence of its own codec, of the given size (within 10 s)."""
    seen = [0] * len(directions)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and min(seen) < count:
        for n, (direction, pt, silence, size) in enumerate(directions):
            direction.send()
            for packet in direction.received():
                assert packet[1] & 0x7F == pt, packet[:12]
                assert set(packet[12:]) <= silence, packet[12:20]
                assert len(packet) - 12 == size, len(packet)
                seen[n] += 1
        time.sleep(0.02)
    return min(seen) >= count


@pytest.mark.parametrize(("spec", "size"), [("PCMA", 160), ("PCMA/8000/1//30", 240)])
def test_transcoding_resumes_after_kill_9(redis_server: RedisServer, node: Any, spec: str,
                                          size: int) -> None:
    """``PCMA/8000/1//30``: the callee, whose answer names no ptime, gets PCMA in 30 ms
    packets (the offer's ``codec-transcode`` specs are stored with the call)."""
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    caller, callee = party(), party()
    try:
        offer = ng(server, "offer", call_id="tc", from_tag="caller",
                   sdp=sdp(caller.getsockname()[1], 0, "PCMU"), codec={"transcode": [spec]})
        assert offer["result"] == "ok", offer
        answer = ng(server, "answer", call_id="tc", from_tag="caller", to_tag="callee",
                    sdp=sdp(callee.getsockname()[1], 8, "PCMA"))
        assert answer["result"] == "ok", answer
        assert "PCMU" in answer["sdp"] and "PCMA" in offer["sdp"]
        directions = [
            (Direction(caller, relay_port(answer), 0, 0xFF, callee), 8, A_SILENCE, size),
            (Direction(callee, relay_port(offer), 8, 0xD5, caller), 0, MU_SILENCE, 160)]
        assert transcoded(directions)
        before = ng(server, "query", call_id="tc")
        wait_for(lambda: "redis_pending 0.0" in server.http("GET", "/metrics")[2].decode(),
                 what="every change written")

        server.kill()
        server = node(*args)
        assert transcoded(directions)
        after = ng(server, "query", call_id="tc")
        for tag in ("caller", "callee"):
            assert after["tags"][tag]["medias"][0]["flags"] == \
                before["tags"][tag]["medias"][0]["flags"], (before, after)
        assert ng(server, "delete", call_id="tc", from_tag="caller")["result"] == "ok"
    finally:
        caller.close()
        callee.close()
