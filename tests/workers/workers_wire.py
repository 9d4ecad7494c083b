"""Clients for the worker tests: ng over UDP from a source socket that stays on one worker.

The kernel spreads a ``SO_REUSEPORT`` group's datagrams by a hash of the source and destination
addresses, so a socket's datagrams always land on the same worker.  :func:`sockets_on` opens
sockets until it has one landing on each worker, learning where each lands from the workers'
debug log (a request for a call-id the other worker owns is logged as forwarded).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import time
from typing import Any

from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess, audio_sdp, wait_for
from rtpgate.workers.shard import owner

_serial = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_serial)}"


def call_id_of(worker: int, count: int = 2, prefix: str = "call") -> str:
    """A fresh call-id that worker ``worker`` owns."""
    while True:
        candidate = unique(prefix)
        if owner(candidate, count) == worker:
            return candidate


class NgSocket:
    """One UDP socket, kept: every request it sends lands on the same worker."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.address = server.address("ng-udp")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10.0)

    def raw(self, cookie: bytes, request: dict[str, Any]) -> bytes:
        """Send ``cookie SP bencode``; the reply's payload (its cookie checked)."""
        self.sock.sendto(cookie + b" " + codec.encode(request, "bencode"), self.address)
        reply = self.sock.recv(65535)
        got, _, payload = reply.partition(b" ")
        assert got == cookie
        return payload

    def ng(self, command: str, **keys: Any) -> dict[str, Any]:
        request = {"command": command, **{k.replace("_", "-"): v for k, v in keys.items()}}
        decoded: dict[str, Any] = codec.decode(self.raw(unique("c").encode(), request))[0]
        return decoded

    def close(self) -> None:
        self.sock.close()


def landing_worker(ng: NgSocket) -> int:
    """The worker ``ng``'s datagrams land on (two workers)."""
    probe = call_id_of(0, prefix="probe")
    reply = ng.ng("query", call_id=probe)
    assert reply["error-reason"] == "Unknown call-id", reply
    forwarded = re.search(rf"query for call-id {re.escape(probe)} forwarded to worker 0",
                          ng.server.log)
    return 1 if forwarded else 0


def sockets_on(server: ServerProcess) -> dict[int, NgSocket]:
    """One :class:`NgSocket` landing on each of the two workers."""
    found: dict[int, NgSocket] = {}
    for _ in range(64):
        ng = NgSocket(server)
        worker = landing_worker(ng)
        if worker in found:
            ng.close()
        else:
            found[worker] = ng
        if len(found) == 2:
            return found
    raise AssertionError("64 sockets all landed on one worker")


def offer(ng: NgSocket, call_id: str) -> dict[str, Any]:
    reply = ng.ng("offer", call_id=call_id, from_tag="a", sdp=audio_sdp("a", 50000))
    assert reply["result"] == "ok", reply
    return reply


def answer(ng: NgSocket, call_id: str) -> dict[str, Any]:
    reply = ng.ng("answer", call_id=call_id, from_tag="a", to_tag="b",
                  sdp=audio_sdp("b", 50002))
    assert reply["result"] == "ok", reply
    return reply


def media_port(reply: dict[str, Any]) -> int:
    found = re.search(r"^m=audio (\d+) ", reply["sdp"], re.M)
    assert found, reply
    return int(found.group(1))


def workers_of(server: ServerProcess) -> list[dict[str, Any]]:
    """The ready file's workers (index, pid, port range), as the supervisor last wrote it."""
    workers: list[dict[str, Any]] = json.loads(server.ready_file.read_text())["workers"]
    return workers


def restarted(server: ServerProcess, index: int, old_pid: int) -> int:
    """Wait until worker ``index`` runs again under another pid; that pid."""
    def new_pid() -> int | None:
        pid = workers_of(server)[index]["pid"]
        return int(pid) if pid != old_pid else None
    return wait_for(new_pid, 60.0, f"worker {index} restarted")


def wait_gone(pid: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)
