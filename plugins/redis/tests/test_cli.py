"""The CLI's Redis settings and ``set redisdisable`` with a configured Redis (the keyspace
commands are in test_failover.py)."""

from __future__ import annotations

from typing import Any

from calls import Call, cli, wait_for
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import media_ports


def keys(server: RedisServer) -> set[str]:
    return {key.decode() for key in server.client(1).scan_iter()}


def test_redis_settings_and_disabling_writes(redis_server: RedisServer, node: Any) -> None:
    rtpgate = node(*rtpgate_args(redis_server, 1, media_ports(), "--redis-cmd-timeout=250"))
    assert cli(rtpgate, "list rediscmdtimeout") == "250\n"
    assert cli(rtpgate, "set redisallowederrors 5") == "Success setting redis-allowed-errors to 5\n"
    assert cli(rtpgate, "list redisallowederrors") == "5\n"
    assert cli(rtpgate, "list redisdisabletime") == "10\n"
    assert cli(rtpgate, "kslist") == "Keyspace notification feature has not been configured.\n"
    first = Call("written").connect(rtpgate)
    wait_for(lambda: keys(redis_server) == {"written"}, what="the first call written")
    listing = cli(rtpgate, "list sessions written")
    assert "redis_keyspace: 1\n" in listing and "last redis update: 0\n" not in listing, listing

    assert cli(rtpgate, "set redisdisable 1") == "Success disable redis write\n"
    assert cli(rtpgate, "set redisdisable 1") == "No redis write to disable\n"
    second = Call("held").connect(rtpgate)
    wait_for(lambda: "redis_pending 1.0" in rtpgate.http("GET", "/metrics")[2].decode(),
             what="the change held in memory")
    assert keys(redis_server) == {"written"}
    assert cli(rtpgate, "set redisdisable 0") == "Success re-enable redis write\n"
    wait_for(lambda: keys(redis_server) == {"written", "held"}, what="the held change written")
    first.close()
    second.close()
