"""Acceptance: Redis down at start, going away mid-call, slow, full, or holding garbage (issue
14).  rtpgate keeps serving from memory, says so in its log and counters, and writes its calls
again once Redis is back."""

from __future__ import annotations

import re
import threading
from typing import Any

import redis
from calls import Call, cli, flows, ng, wait_for
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import ServerProcess, media_ports


def metric(server: ServerProcess, name: str) -> float:
    status, _, body = server.http("GET", "/metrics")
    assert status == 200
    found = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    assert found, body.decode()
    return float(found.group(1))


def keys(server: RedisServer, db: int = 1) -> set[str]:
    return {key.decode() for key in server.client(db).scan_iter()}


def test_redis_down_at_start_then_back(tmp_path: Any, node: Any) -> None:
    """A node started while Redis is down serves from memory; once Redis answers it restores
    the calls stored there that it has not got (SCAN) and writes its own."""
    ports = media_ports()
    redis_server = RedisServer(tmp_path / "late").start()
    before = node(*rtpgate_args(redis_server, 1, ports))
    # the stored calls sit above the ports the next node's own calls take first
    spacers = [Call(f"spacer-{n}").connect(before) for n in range(4)]
    stored = [Call(f"stored-{n}").connect(before) for n in range(2)]
    for call in spacers:
        assert ng(before, "delete", call_id=call.call_id, from_tag="alice")["result"] == "ok"
    wait_for(lambda: keys(redis_server) == {c.call_id for c in stored}, what="calls written")
    redis_server.client(0).save()  # the next redis-server starts from this dump
    before.kill()
    redis_server.stop()

    rtpgate = node(*rtpgate_args(redis_server, 1, ports))
    calls = [Call(f"early-{n}").connect(rtpgate) for n in range(3)]
    try:
        assert flows(calls) == []
        assert "Redis unreachable: no calls restored" in rtpgate.log
        assert metric(rtpgate, "redis_errors_total") >= 1
        assert ng(rtpgate, "query", call_id="stored-0")["result"] == "error"
        redis_server.start()
        wait_for(lambda: keys(redis_server) == {c.call_id for c in calls + stored},
                 what="the node's calls written once Redis is up")
        wait_for(lambda: metric(rtpgate, "redis_restored_total") == 2,
                 what="the stored calls restored once Redis is up")
        assert metric(rtpgate, "redis_recoveries_total") >= 1
        assert metric(rtpgate, "redis_restore_failures_total") == 0
        assert "restoring the calls this node has not got" in rtpgate.log
        assert cli(rtpgate, "list numsessions").startswith("Current sessions own: 5\n")
        assert flows(calls + stored) == []  # the restored calls relay on their old ports
        for call in stored:
            assert ng(rtpgate, "delete", call_id=call.call_id, from_tag="alice")["result"] == "ok"
        wait_for(lambda: keys(redis_server) == {c.call_id for c in calls},
                 what="the deleted calls gone from Redis")
    finally:
        redis_server.stop()
        for call in calls + stored + spacers:
            call.close()


def test_redis_going_away_mid_call(tmp_path: Any, redis_server: RedisServer, node: Any) -> None:
    rtpgate = node(*rtpgate_args(redis_server, 1, media_ports()))
    calls = [Call(f"mid-{n}").connect(rtpgate) for n in range(4)]
    try:
        wait_for(lambda: len(keys(redis_server)) == 4, what="the calls written")
        redis_server.stop()
        ng(rtpgate, "delete", call_id="mid-0", from_tag="alice")
        calls.append(Call("mid-new").connect(rtpgate))  # signalling goes on
        assert flows(calls[1:]) == []  # and media
        wait_for(lambda: "Redis write failed" in rtpgate.log
                 or "Redis health check failed" in rtpgate.log, what="the outage logged")
        assert metric(rtpgate, "redis_outages_total") == 1
        assert metric(rtpgate, "redis_pending") >= 0
        redis_server.start()  # an empty Redis on the same port
        wait_for(lambda: keys(redis_server) == {"mid-1", "mid-2", "mid-3", "mid-new"},
                 what="every own call written again")
    finally:
        for call in calls:
            call.close()


def test_slow_redis_never_delays_an_ng_reply(redis_server: RedisServer, node: Any) -> None:
    rtpgate = node(*rtpgate_args(redis_server, 1, media_ports(), "--redis-cmd-timeout=300"))
    Call("warm").connect(rtpgate)
    wait_for(lambda: keys(redis_server) == {"warm"}, what="the first call written")
    sleeper = threading.Thread(
        target=lambda: redis.Redis(port=redis_server.port, socket_timeout=30).execute_command(
            "DEBUG", "SLEEP", "4"))
    sleeper.start()
    try:
        calls = [Call(f"slow-{n}").connect(rtpgate) for n in range(5)]
        # every offer and answer was answered while Redis was still asleep
        assert sleeper.is_alive()
        assert flows(calls) == []
    finally:
        sleeper.join()
    wait_for(lambda: keys(redis_server) == {"warm", *(c.call_id for c in calls)},
             what="the calls written after the sleep")
    assert metric(rtpgate, "redis_errors_total") >= 1  # the writes that timed out
    for call in calls:
        call.close()


def test_full_redis(redis_server: RedisServer, node: Any) -> None:
    admin = redis_server.client(0)
    rtpgate = node(*rtpgate_args(redis_server, 1, media_ports()))
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")  # below what Redis uses already: every write is refused
    calls = [Call(f"full-{n}").connect(rtpgate) for n in range(3)]
    try:
        assert flows(calls) == []
        wait_for(lambda: "OutOfMemoryError" in rtpgate.log, what="the OOM error logged")
        assert keys(redis_server) == set()
        admin.config_set("maxmemory", "0")
        wait_for(lambda: keys(redis_server) == {c.call_id for c in calls},
                 what="the calls written once there is room")
    finally:
        for call in calls:
            call.close()


def test_garbage_keys_are_skipped_at_restore(redis_server: RedisServer, node: Any) -> None:
    ports = media_ports()
    rtpgate = node(*rtpgate_args(redis_server, 1, ports))
    good = Call("good").connect(rtpgate)
    wait_for(lambda: keys(redis_server) == {"good"}, what="the call written")
    rtpgate.kill()
    db = redis_server.client(1)
    db.set("garbage-text", b"not a call at all")
    db.set("garbage-dict", b"d4:json" + b"d3:fooi1eee")
    db.set("garbage-json", b'{"json": {"created": "1", "last_signal": "1", "num_tags": "9"}}')
    rtpgate = node(*rtpgate_args(redis_server, 1, ports))
    try:
        assert flows([good]) == []
        log = rtpgate.log
        for key in ("garbage-text", "garbage-dict", "garbage-json"):
            assert f"Failed to restore call ID '{key}' from Redis" in log, log
        assert metric(rtpgate, "redis_restored_total") == 1
        assert metric(rtpgate, "redis_restore_failures_total") == 3
        assert ng(rtpgate, "query", call_id="good")["result"] == "ok"
        assert ng(rtpgate, "query", call_id="garbage-text")["result"] == "error"
    finally:
        good.close()
