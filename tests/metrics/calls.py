"""Calls made over ng for the metrics tests, and a way to tell whether the engine is there."""

from __future__ import annotations

import uuid

from metrics_helpers import ng
from rtpgate.testing import ServerProcess, audio_sdp


def sdp(user: str, port: int) -> str:
    return audio_sdp(user, port, (0, 101))


def offer(server: ServerProcess, call_id: str | None = None) -> tuple[str, dict[str, object]]:
    """Send one offer; ``(call-id, reply)``."""
    call_id = call_id or uuid.uuid4().hex
    reply = ng(server, {"command": "offer", "call-id": call_id, "from-tag": f"ft-{call_id}",
                        "sdp": sdp("alice", 6000)})
    assert reply["result"] == "ok", reply
    return call_id, reply


def answer(server: ServerProcess, call_id: str) -> dict[str, object]:
    reply = ng(server, {"command": "answer", "call-id": call_id, "from-tag": f"ft-{call_id}",
                        "to-tag": f"tt-{call_id}", "sdp": sdp("bob", 7000)})
    assert reply["result"] == "ok", reply
    return reply


def delete(server: ServerProcess, call_id: str) -> dict[str, object]:
    reply = ng(server, {"command": "delete", "call-id": call_id, "from-tag": f"ft-{call_id}"})
    assert reply["result"] == "ok" and "warning" not in reply, reply
    return reply
