"""The writer's pipeline (:class:`rtpgate_redis.connect.Batches`) on a real ``redis-server``:
replies in order, an error reply returned in its place without losing step, and two batches at
once (a stopping server flushes while the writer waits for its replies) each get their own
replies on the one connection."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from redis_server import RedisServer
from rtpgate_redis.connect import Batches


async def batches(server: RedisServer) -> None:
    client = aioredis.Redis(host="127.0.0.1", port=server.port, db=3)
    try:
        writer = Batches(client)
        replies = await writer.execute([("SET", "a", b"1", "EX", 60), ("INCR", "a"),
                                        ("HSET", "a", "f", "v"), ("GET", "a"), ("DEL", "a")])
        assert replies[:2] == [b"OK", 2], replies
        assert isinstance(replies[2], ResponseError), replies  # WRONGTYPE: a string key
        assert replies[3:] == [b"2", 1], replies
        # the first batch waits for its replies (DEBUG SLEEP) while the second is sent
        first, second = await asyncio.gather(
            writer.execute([("DEBUG", "SLEEP", "0.3"), ("SET", "b", b"1"), ("GET", "b")]),
            writer.execute([("SET", "c", b"2"), ("GET", "c")]))
        assert first[1:] == [b"OK", b"1"] and second == [b"OK", b"2"], (first, second)
    finally:
        await client.aclose()


def test_batches_keep_their_replies_in_step(redis_server: RedisServer) -> None:
    asyncio.run(batches(redis_server))
