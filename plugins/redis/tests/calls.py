"""Calls through a real rtpgate with real UDP parties: ng over ``POST /ng-plain`` (JSON), the
CLI over ``POST /cli``, RTP both ways."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rtpgate.testing import (
    LOCAL,
    MediaParty,
    ServerProcess,
    audio_sdp,
    cli_text,
    ng_json,
    relay_address,
    rtp_packet,
    wait_for,
)

__all__ = ["LOCAL", "Call", "MediaParty", "cli", "flows", "ng", "relay_port", "sdp", "wait_for"]

#: The shared helpers (rtpgate.testing) under the names these tests use.
ng = ng_json
cli = cli_text
sdp = audio_sdp
rtp = rtp_packet


def relay_port(reply: dict[str, Any]) -> int:
    return relay_address(reply)[1]


@dataclass
class Call:
    call_id: str
    alice: MediaParty = field(default_factory=MediaParty.open)
    bob: MediaParty = field(default_factory=MediaParty.open)

    def connect(self, server: ServerProcess) -> Call:
        self.alice.ssrc, self.bob.ssrc = 0x1000 + len(self.call_id), 0x2000 + len(self.call_id)
        offer = ng(server, "offer", call_id=self.call_id, from_tag="alice",
                   sdp=sdp("alice", self.alice.port))
        assert offer["result"] == "ok", offer
        self.bob.relay = (LOCAL, relay_port(offer))
        answer = ng(server, "answer", call_id=self.call_id, from_tag="alice", to_tag="bob",
                    sdp=sdp("bob", self.bob.port))
        assert answer["result"] == "ok", answer
        self.alice.relay = (LOCAL, relay_port(answer))
        return self

    def close(self) -> None:
        self.alice.close()
        self.bob.close()


def flows(calls: list[Call], deadline: float = 5.0, rounds: int = 3) -> list[Call]:
    """The calls whose media does not go through both ways within ``deadline`` seconds
    (each party sends until the other has received ``rounds`` packets)."""
    waiting = {id(call): call for call in calls}
    got: dict[tuple[int, str], int] = {}
    end = time.monotonic() + deadline
    while waiting and time.monotonic() < end:
        for call in list(waiting.values()):
            call.alice.send()
            call.bob.send()
        time.sleep(0.05)
        for key, call in list(waiting.items()):
            for name, party in (("alice", call.alice), ("bob", call.bob)):
                got[(key, name)] = got.get((key, name), 0) + party.drain()
            if got[(key, "alice")] >= rounds and got[(key, "bob")] >= rounds:
                del waiting[key]
    return list(waiting.values())
