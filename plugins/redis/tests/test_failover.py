"""Acceptance: failover between two nodes on one Redis (issue 14).  Node A writes database 1;
node B writes database 2 and follows database 1's keyspace, so A's calls are foreign on B.  Both
nodes use the same address and port range (as a floating address would), so B binds A's ports
only once A is gone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from calls import Call, cli, flows, ng, sdp, wait_for
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import ServerProcess, media_ports

CALLS = 5


def _pair(redis_server: RedisServer, node: Callable[..., ServerProcess], *extra: str
          ) -> tuple[ServerProcess, ServerProcess, list[Call]]:
    ports = media_ports()
    a = node(*rtpgate_args(redis_server, 1, ports))
    b = node(*rtpgate_args(redis_server, 2, ports, "--subscribe-keyspace=1", *extra))
    calls = [Call(f"failover-{n}").connect(a) for n in range(CALLS)]
    assert flows(calls) == []
    wait_for(lambda: cli(b, "list numsessions").startswith(
        f"Current sessions own: 0\nCurrent sessions foreign: {CALLS}\n"),
        what="A's calls foreign on B")
    listing = cli(b, "list sessions foreign")
    assert all(f"failover-{n} |" in listing for n in range(CALLS)), listing
    assert "frgn:y" in listing and "redis: 1" in listing
    assert cli(b, "list sessions own") == "No own sessions on this media relay.\n"
    return a, b, calls


def test_foreign_calls_follow_their_owner(redis_server: RedisServer, node: Any) -> None:
    a, b, calls = _pair(redis_server, node)
    try:
        assert cli(b, "kslist") == "\nSubscribed-on keyspaces:\n1 \n"
        ng(a, "delete", call_id="failover-0", from_tag="alice")
        wait_for(lambda: "Current sessions foreign: 4\n" in cli(b, "list numsessions"),
                 what="a deleted call to leave B")
        reply = ng(a, "block media", call_id="failover-1", from_tag="alice")
        assert reply["result"] == "ok"
        assert cli(b, "ksrm 1") == ("Successfully unsubscribed from keyspace 1.\n"
                                    "Successfully removed all foreign calls for keyspace 1.\n")
        assert "Current sessions foreign: 0\n" in cli(b, "list numsessions")
        assert cli(b, "ksadd 1") == "Success adding keyspace 1 to redis notifications.\n"
        assert cli(b, "ksadd 1") == "Keyspace 1 is already among redis notifications.\n"
        wait_for(lambda: "Current sessions foreign: 4\n" in cli(b, "list numsessions"),
                 what="the keyspace's calls back on B")
    finally:
        for call in calls:
            call.close()


def test_cli_active_takes_over_after_the_owner_died(redis_server: RedisServer,
                                                     node: Any) -> None:
    a, b, calls = _pair(redis_server, node)
    try:
        a.kill()
        assert cli(b, "active") == "Ok, all calls set to 'owned (active)'\n"
        assert "Current sessions own: 5\nCurrent sessions foreign: 0\n" in cli(
            b, "list numsessions")
        assert flows(calls) == []
        keys = redis_server.client(2)
        wait_for(lambda: keys.dbsize() == CALLS, what="B to write the calls it took over")
        for call in calls:
            assert ng(b, "delete", call_id=call.call_id, from_tag="alice")["result"] == "ok"
    finally:
        for call in calls:
            call.close()


def test_active_switchover_on_the_first_packet(redis_server: RedisServer, node: Any) -> None:
    a, b, calls = _pair(redis_server, node, "--active-switchover")
    try:
        a.kill()
        assert flows(calls) == []
        assert "Current sessions own: 5\nCurrent sessions foreign: 0\n" in cli(
            b, "list numsessions")
    finally:
        for call in calls:
            call.close()


def test_active_switchover_on_signalling(redis_server: RedisServer, node: Any) -> None:
    a, b, calls = _pair(redis_server, node, "--active-switchover")
    try:
        a.kill()
        call = calls[0]
        reply = ng(b, "offer", call_id=call.call_id, from_tag="alice",
                   sdp=sdp("alice", call.alice.port))
        assert reply["result"] == "ok", reply
        assert "Current sessions own: 1\nCurrent sessions foreign: 4\n" in cli(
            b, "list numsessions")
        wait_for(lambda: redis_server.client(2).exists(call.call_id), what="B to write it")
    finally:
        for call in calls:
            call.close()


def test_calls_deleted_while_the_subscription_was_down_are_dropped(
        redis_server: RedisServer, node: Any) -> None:
    """A foreign call whose key went while B heard nothing is dropped when B subscribes again
    (it reconciles with SCAN), and one set meanwhile appears."""
    a, b, calls = _pair(redis_server, node)
    admin = redis_server.client(0)
    try:
        admin.config_set("notify-keyspace-events", "")  # B hears nothing from now on
        assert ng(a, "delete", call_id="failover-0", from_tag="alice")["result"] == "ok"
        late = Call("failover-late").connect(a)
        calls.append(late)
        wait_for(lambda: not redis_server.client(1).exists("failover-0")
                 and redis_server.client(1).exists("failover-late"), what="A's writes")
        assert "Current sessions foreign: 5\n" in cli(b, "list numsessions")
        admin.config_set("notify-keyspace-events", "KEA")
        assert admin.client_kill_filter(_type="pubsub") >= 1  # B's subscription breaks
        # one listing decides: B drops and adopts in its own time, and two reads could see
        # the five calls of before the reconciliation, then four halfway through it
        wait_for(lambda: (lambda listing: "failover-late |" in listing
                          and "failover-0 |" not in listing)(cli(b, "list sessions foreign")),
                 what="B to drop the deleted call and adopt the new one")
        assert "Current sessions foreign: 5\n" in cli(b, "list numsessions")
        assert "deleted while the subscription was down dropped" in b.log
        assert "redis_outages_total 1.0" in b.http("GET", "/metrics")[2].decode()
    finally:
        for call in calls:
            call.close()
