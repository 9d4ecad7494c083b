"""Calls through a real rtpgate with real UDP parties: ng over ``POST /ng-plain`` (JSON), the
CLI over ``POST /cli``, RTP both ways."""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from rtpgate.testing import ServerProcess

LOCAL = "127.0.0.1"


def ng(server: ServerProcess, command: str, **keys: Any) -> dict[str, Any]:
    body = json.dumps({"command": command, **{k.replace("_", "-"): v for k, v in keys.items()}})
    status, _, reply = server.http("POST", "/ng-plain", body.encode(),
                                   {"Content-Type": "application/json"})
    assert status == 200, reply
    decoded: dict[str, Any] = json.loads(reply)
    return decoded


def cli(server: ServerProcess, line: str) -> str:
    status, _, reply = server.http("POST", "/cli", line.encode(), {"Content-Type": "text/plain"})
    assert status == 200, reply
    return reply.decode()


def sdp(user: str, port: int) -> str:
    return (f"v=0\r\no={user} 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
            "a=sendrecv\r\n")


def relay_port(reply: dict[str, Any]) -> int:
    found = re.search(r"^m=audio (\d+) ", reply["sdp"], re.M)
    assert found, reply
    return int(found.group(1))


def rtp(seq: int, ssrc: int) -> bytes:
    return bytes([0x80, 0]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big") \
        + ssrc.to_bytes(4, "big") + b"\xff" * 160


def udp_pair() -> tuple[socket.socket, socket.socket]:
    """RTP and RTCP sockets on consecutive ports, the first even."""
    while True:
        first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        first.bind((LOCAL, 0))
        port = first.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                second.bind((LOCAL, port + 1))
            except OSError:
                second.close()
            else:
                first.setblocking(False)
                second.setblocking(False)
                return first, second
        first.close()


@dataclass
class Party:
    rtp: socket.socket
    rtcp: socket.socket
    relay: int = 0  #: the relay port this party sends to
    ssrc: int = 0
    sent: int = 0

    @property
    def port(self) -> int:
        return int(self.rtp.getsockname()[1])

    def send(self) -> None:
        self.sent += 1
        self.rtp.sendto(rtp(self.sent, self.ssrc), (LOCAL, self.relay))

    def drain(self) -> int:
        """Packets waiting on the RTP socket."""
        count = 0
        while True:
            try:
                self.rtp.recv(2048)
            except BlockingIOError:
                return count
            count += 1

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


@dataclass
class Call:
    call_id: str
    alice: Party = field(default_factory=lambda: Party(*udp_pair()))
    bob: Party = field(default_factory=lambda: Party(*udp_pair()))

    def connect(self, server: ServerProcess) -> Call:
        self.alice.ssrc, self.bob.ssrc = 0x1000 + len(self.call_id), 0x2000 + len(self.call_id)
        offer = ng(server, "offer", call_id=self.call_id, from_tag="alice",
                   sdp=sdp("alice", self.alice.port))
        assert offer["result"] == "ok", offer
        self.bob.relay = relay_port(offer)
        answer = ng(server, "answer", call_id=self.call_id, from_tag="alice", to_tag="bob",
                    sdp=sdp("bob", self.bob.port))
        assert answer["result"] == "ok", answer
        self.alice.relay = relay_port(answer)
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


def wait_for(predicate: Any, deadline: float = 30.0, what: str = "condition") -> Any:
    end = time.monotonic() + deadline
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)
