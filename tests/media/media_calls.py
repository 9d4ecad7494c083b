"""Calls through a real rtpgate server for the media tests: two parties with real UDP sockets on
127.0.0.1 that make a call with ng offer/answer (JSON over ``POST /ng-plain``) and then send
media to the relay ports rtpgate put into the SDPs."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from rtpgate.testing import LOCAL, ServerProcess, audio_sdp, ng_json, relay_address, udp_pair

__all__ = ["LOCAL", "Call", "Party", "attribute", "ng", "relay_address", "sdp", "udp_pair"]

#: One ng request as JSON over ``/ng-plain`` (rtpgate.testing's, under the name used here).
ng = ng_json


def sdp(user: str, port: int, extra: str = "") -> str:
    """An audio offer/answer from ``port`` (RTCP implicitly on ``port + 1``): PCMU, PCMA and
    telephone-event 101."""
    return audio_sdp(user, port, (0, 8, 101), extra)


def attribute(reply: dict[str, Any], name: str) -> str:
    found = re.search(rf"^a={name}:(\S+)", reply["sdp"], re.M)
    assert found, reply["sdp"]
    return found.group(1)


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
    alice: Party = field(default_factory=lambda: Party("alice", *udp_pair(timeout=2)))
    bob: Party = field(default_factory=lambda: Party("bob", *udp_pair(timeout=2)))
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
