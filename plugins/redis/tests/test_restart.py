"""Acceptance: restart after kill -9 with 200 calls (issue 14), on a real redis-server."""

from __future__ import annotations

import time
from typing import Any

from calls import Call, cli, flows, ng, wait_for
from redis_server import rtpgate_args
from rtpgate.testing import media_ports

CALLS = 200
#: Fields of a ``query`` reply that media changes (counters, timestamps, learning).
VOLATILE = {"last packet", "stats", "SSRC", "flags", "totals", "last signal"}


def stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def test_restart_restores_every_call_on_its_ports(redis_server: Any, node: Any) -> None:
    ports = media_ports()
    args = rtpgate_args(redis_server, 1, ports)
    server = node(*args)
    calls = [Call(f"restart-{n}").connect(server) for n in range(CALLS)]
    try:
        assert flows(calls, deadline=30) == []
        before = {call.call_id: stable(ng(server, "query", call_id=call.call_id))
                  for call in calls}
        keys = redis_server.client(1)
        wait_for(lambda: keys.dbsize() == CALLS, what="every call written")
        server.kill()

        server = node(*args)
        ready = time.monotonic()
        assert flows(calls, deadline=10) == []
        resumed = time.monotonic() - ready
        assert resumed < 2.0, f"media resumed {resumed:.2f} s after the restart"
        assert "Current sessions own: 200\n" in cli(server, "list numsessions")
        for call in calls:
            after = stable(ng(server, "query", call_id=call.call_id))
            assert after == before[call.call_id], call.call_id
        for call in calls:
            reply = ng(server, "delete", call_id=call.call_id, from_tag="alice")
            assert reply["result"] == "ok", reply
        assert "Current sessions total: 0\n" in cli(server, "list numsessions")
        wait_for(lambda: keys.dbsize() == 0, what="every key deleted")
    finally:
        for call in calls:
            call.close()
