"""Calls with media through a real rtpgate for the dashboard tests: ng offer/answer/delete as
JSON over ``POST /ng-plain``, two parties per call on real loopback UDP sockets, and a sender
thread that keeps RTP (and, every second, an RTCP receiver report) flowing both ways."""

from __future__ import annotations

import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from rtpgate.testing import (
    LOCAL,
    MediaParty,
    ServerProcess,
    audio_sdp,
    call_owner,
    ng_json,
    relay_address,
)


def ng(server: ServerProcess, command: str, **keys: Any) -> dict[str, Any]:
    """:func:`rtpgate.testing.ng_json`, which must succeed."""
    decoded = ng_json(server, command, **keys)
    assert decoded.get("result") == "ok", decoded
    return decoded


def statistics(server: ServerProcess) -> dict[str, Any]:
    stats: dict[str, Any] = ng(server, "statistics")["statistics"]
    return stats


def receiver_report(ssrc: int, source: int, fraction: int, lost: int, jitter: int) -> bytes:
    """An RTCP RR with one report block (RFC 3550 6.4.2)."""
    block = struct.pack("!IB3sIII", source, fraction, lost.to_bytes(3, "big", signed=True),
                        1000, jitter, 0) + b"\0\0\0\0"
    return struct.pack("!BBHI", 0x81, 201, 7, ssrc) + block


@dataclass
class Call:
    call_id: str
    label: str
    a: MediaParty
    b: MediaParty


@dataclass
class Traffic:
    """Calls on ``server`` and a thread sending ``pps`` RTP packets a second per direction of
    every call, plus a receiver report per party every second."""

    server: ServerProcess
    pps: int = 50
    calls: dict[str, Call] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    def call(self, label: str = "", owner: int | None = None) -> str:
        """A call with RTP both ways (from :meth:`start` on); ``owner``: one whose call-id that
        worker owns (:func:`rtpgate.testing.call_owner`, with RTPGATE_TEST_WORKERS)."""
        call_id = f"dash-{uuid.uuid4().hex[:12]}"
        while owner is not None and call_owner(call_id) != owner:
            call_id = f"dash-{uuid.uuid4().hex[:12]}"
        a = MediaParty.open(0x1000 + len(self.calls) * 2)
        b = MediaParty.open(0x1001 + len(self.calls) * 2)
        labelled = {"label": label} if label else {}
        offer = ng(self.server, "offer", call_id=call_id, from_tag=f"{call_id}-a",
                   sdp=audio_sdp("alice", a.port, (0,)), **labelled)
        answer = ng(self.server, "answer", call_id=call_id, from_tag=f"{call_id}-a",
                    to_tag=f"{call_id}-b", sdp=audio_sdp("bob", b.port, (0,)))
        b.relay = (LOCAL, relay_address(offer)[1])
        a.relay = (LOCAL, relay_address(answer)[1])
        with self._lock:
            self.calls[call_id] = Call(call_id, label, a, b)
        return call_id

    def delete(self, call_id: str) -> None:
        with self._lock:
            call = self.calls.pop(call_id)
        ng(self.server, "delete", call_id=call_id, from_tag=f"{call_id}-a", delete_delay=0)
        call.a.close()
        call.b.close()

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for call_id in list(self.calls):
            self.delete(call_id)

    def _send(self) -> None:
        period = 1.0 / self.pps
        next_at = time.monotonic()
        last_report = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            report = now - last_report >= 1.0
            with self._lock:
                calls = list(self.calls.values())
            for call in calls:
                for party, peer in ((call.a, call.b), (call.b, call.a)):
                    try:
                        party.send()
                        if report:
                            party.rtcp.sendto(receiver_report(party.ssrc, peer.ssrc, 13, 42, 240),
                                              (LOCAL, party.relay[1] + 1))
                    except OSError:
                        pass  # deleted meanwhile
                    party.drain()
            if report:
                last_report = now
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))
