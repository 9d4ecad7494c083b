"""Two workers (``--num-threads=2``) on one Redis database: a worker killed with SIGKILL is
restarted and restores exactly its own calls (the call-ids that hash to it) on their ports."""

from __future__ import annotations

import json
import os
import signal
import zlib
from typing import Any

from calls import ng, sdp, wait_for
from redis_server import rtpgate_args
from rtpgate.testing import media_ports

CALLS = 12


def owner(call_id: str) -> int:
    """rtpgate's sharding: crc32 of the call-id modulo the worker count."""
    return zlib.crc32(call_id.encode()) % 2


def local_ports(reply: dict[str, Any]) -> list[int]:
    return sorted(stream["local port"] for tag in reply["tags"].values()
                  for media in tag["medias"] for stream in media["streams"])


def test_a_killed_worker_restores_its_own_calls_from_redis(redis_server: Any,
                                                           node: Any) -> None:
    server = node(*rtpgate_args(redis_server, 3, media_ports(), "--num-threads=2"))
    call_ids = [f"workers-redis-{n}" for n in range(CALLS)]
    assert {owner(c) for c in call_ids} == {0, 1}
    for n, call_id in enumerate(call_ids):
        reply = ng(server, "offer", call_id=call_id, from_tag="a", sdp=sdp("a", 40000 + 2 * n))
        assert reply["result"] == "ok", reply
    before = {c: local_ports(ng(server, "query", call_id=c)) for c in call_ids}
    keys = redis_server.client(3)
    wait_for(lambda: keys.dbsize() == CALLS, what="every call written")

    def pid_of(index: int) -> int:
        return int(json.loads(server.ready_file.read_text())["workers"][index]["pid"])

    old = pid_of(1)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: pid_of(1) != old, 60.0, "worker 1 restarted")
    assert sorted(ng(server, "list", limit=100)["calls"]) == sorted(call_ids)
    for call_id in call_ids:
        reply = ng(server, "query", call_id=call_id)
        assert reply["result"] == "ok", (call_id, reply)
        assert local_ports(reply) == before[call_id], call_id
    log = server.log
    assert log.count("restored 0 calls from Redis") == 2  # both workers at the start
    restored = sum(owner(c) == 1 for c in call_ids)
    assert f"restored {restored} calls from Redis" in log  # the new worker 1: its own only
    for call_id in call_ids:
        assert ng(server, "delete", call_id=call_id, from_tag="a")["result"] == "ok"
    wait_for(lambda: keys.dbsize() == 0, what="every key deleted")
