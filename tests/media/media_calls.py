"""Calls through a real rtpgate server for the media tests: two parties with real UDP sockets on
127.0.0.1 that make a call with ng offer/answer (JSON over ``POST /ng-plain``) and then send
media to the relay ports rtpgate put into the SDPs."""

from __future__ import annotations

import json
import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from rtpgate.testing import ServerProcess

LOCAL = "127.0.0.1"


def ng(server: ServerProcess, command: str, **keys: Any) -> dict[str, Any]:
    """One ng request as JSON over ``/ng-plain``; the decoded reply."""
    body = json.dumps({"command": command, **{k.replace("_", "-"): v for k, v in keys.items()}})
    status, _, reply = server.http("POST", "/ng-plain", body.encode(),
                                   {"Content-Type": "application/json"})
    assert status == 200, reply
    decoded: dict[str, Any] = json.loads(reply)
    return decoded


def sdp(user: str, port: int, extra: str = "") -> str:
    """An audio offer/answer from ``port`` (RTCP implicitly on ``port + 1``): PCMU, PCMA and
    telephone-event 101."""
    return (f"v=0\r\no={user} 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n{extra}"
            "a=sendrecv\r\n")


def relay_address(reply: dict[str, Any]) -> tuple[str, int]:
    """The relay's RTP address in a rewritten SDP (per-media ``c=``, ``m=`` port)."""
    text = reply["sdp"]
    port = re.search(r"^m=audio (\d+) ", text, re.M)
    host = re.findall(r"^c=IN IP4 (\S+)", text, re.M)
    assert port and host, text
    return host[-1], int(port.group(1))


def attribute(reply: dict[str, Any], name: str) -> str:
    found = re.search(rf"^a={name}:(\S+)", reply["sdp"], re.M)
    assert found, reply["sdp"]
    return found.group(1)


def udp_pair() -> tuple[socket.socket, socket.socket]:
    """Two sockets on consecutive ports, the first even (RTP and its implicit RTCP)."""
    while True:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((LOCAL, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((LOCAL, port + 1))
            except OSError:
                rtcp.close()
            else:
                for sock in (rtp, rtcp):
                    sock.settimeout(2)
                return rtp, rtcp
        rtp.close()


@dataclass
class Party:
    """One endpoint: its RTP and RTCP sockets and the relay ports it was told to send to."""

    tag: str
    rtp: socket.socket
    rtcp: socket.socket
    relay: tuple[str, int] = ("", 0)  # where this party sends RTP (from the SDP it got)

    @property
    def port(self) -> int:
        return int(self.rtp.getsockname()[1])

    @property
    def relay_rtcp(self) -> tuple[str, int]:
        return (self.relay[0], self.relay[1] + 1)

    def send(self, data: bytes) -> None:
        self.rtp.sendto(data, self.relay)

    def send_rtcp(self, data: bytes) -> None:
        self.rtcp.sendto(data, self.relay_rtcp)

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


@dataclass
class Call:
    """Alice offers, Bob answers."""

    server: ServerProcess
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    alice: Party = field(default_factory=lambda: Party("alice", *udp_pair()))
    bob: Party = field(default_factory=lambda: Party("bob", *udp_pair()))
    offer_reply: dict[str, Any] = field(default_factory=dict)
    answer_reply: dict[str, Any] = field(default_factory=dict)

    def connect(self, flags: tuple[str, ...] = (), alice_sdp: str | None = None,
                bob_sdp: str | None = None, **keys: Any) -> Call:
        self.offer_reply = ng(self.server, "offer", call_id=self.call_id, from_tag="alice",
                              sdp=alice_sdp or sdp("alice", self.alice.port),
                              flags=list(flags), **keys)
        assert self.offer_reply["result"] == "ok", self.offer_reply
        self.bob.relay = relay_address(self.offer_reply)
        self.answer_reply = ng(self.server, "answer", call_id=self.call_id, from_tag="alice",
                               to_tag="bob", sdp=bob_sdp or sdp("bob", self.bob.port),
                               flags=list(flags), **keys)
        assert self.answer_reply["result"] == "ok", self.answer_reply
        self.alice.relay = relay_address(self.answer_reply)
        return self

    def ng(self, command: str, **keys: Any) -> dict[str, Any]:
        reply = ng(self.server, command, call_id=self.call_id, **keys)
        assert reply["result"] == "ok", reply
        return reply

    def query(self) -> dict[str, Any]:
        return self.ng("query")

    def streams(self, reply: dict[str, Any], tag: str) -> list[dict[str, Any]]:
        """The streams of ``tag``'s first media in a query/delete reply (RTP, RTCP)."""
        streams: list[dict[str, Any]] = reply["tags"][tag]["medias"][0]["streams"]
        return streams

    def close(self) -> None:
        self.alice.close()
        self.bob.close()
