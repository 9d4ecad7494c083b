#!/usr/bin/env python3
"""What one write of a call costs the ``--redis`` server, in process: serialising a two-party
call to rtpengine's shape and encoding it (bencode, JSON), each alone (the call's values, then
encoding them) and as the writer does it (``stored_value``: bencode made straight as text, see
``rtpgate_redis/entries.py``), and sending a batch to Redis (the
plugin's :class:`~rtpgate_redis.connect.Batches` beside redis-py's ``Pipeline``, which it
replaced).  CPU time (``time.process_time``), best of ``--repeat`` runs: steadier than the
clock on a shared machine, and what the cycle rate of a CPU-bound server pays.

    .venv/bin/python bench/redis_write_path.py [--number 2000] [--repeat 5]

A ``redis-server`` is started on a free loopback port (no persistence) and stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis
from ng_cycles_profile import SDP_ANSWER, SDP_OFFER
from redis_cost import start_redis
from rtpgate.boot import boot
from rtpgate.ngcommands import codec
from rtpgate_redis import blob
from rtpgate_redis.connect import Batches, Command
from rtpgate_redis.plugin import _store
from rtpgate_redis.shape import serialise, stored_value


def best(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Microseconds of CPU per call of ``fn``."""
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            fn()
        runs.append(time.process_time() - started)
    return min(runs) / number * 1e6


async def best_async(fn: Callable[[], Awaitable[object]], number: int, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(number):
            await fn()
        runs.append(time.process_time() - started)
    return min(runs) / number * 1e6


async def measure(redis_port: int, number: int, repeat: int) -> None:
    runtime, _ = boot(["--config-file=none", "--delete-delay=0", "--interface=127.0.0.1",
                       "--port-min=50000", "--port-max=50999", "--log-level=5",
                       f"--redis=127.0.0.1:{redis_port}/1"], env={})
    store = _store(runtime)
    assert store is not None
    process, peer = runtime.ng.process, ("127.0.0.1", 5060)
    for message in ({"command": "offer", "call-id": "bench", "from-tag": "a", "sdp": SDP_OFFER},
                    {"command": "answer", "call-id": "bench", "from-tag": "a", "to-tag": "b",
                     "sdp": SDP_ANSWER}):
        reply = await process(codec.encode(message, "bencode"), peer, "http")
        assert reply.endswith(b"6:result2:oke"), reply
    call = runtime.engine.call("bench")
    assert call is not None
    resumer = store._resumer
    shape = serialise(call, 1, resumer)
    data = blob.encode(shape, "bencode")
    print(f"one two-party call with telephone-event ({len(data)} bytes in bencode), "
          f"best of {repeat} x {number}, CPU time; load average {os.getloadavg()[0]:.1f}")
    for name, fn in (("serialise to rtpengine's shape", lambda: serialise(call, 1, resumer)),
                     ("encode its values, bencode", lambda: blob.encode(shape, "bencode")),
                     ("encode its values, JSON", lambda: blob.encode(shape, "JSON")),
                     ("write, bencode (stored_value)",
                      lambda: stored_value(call, 1, "bencode", resumer)),
                     ("write, JSON (stored_value)",
                      lambda: stored_value(call, 1, "JSON", resumer))):
        print(f"  {name:32s} {best(fn, number, repeat):6.1f} us")
    client = aioredis.Redis(host="127.0.0.1", port=redis_port, db=2)
    batches = Batches(client)
    for sets, deletes in ((1, 0), (3, 3)):
        commands: list[Command] = [
            ("SET", f"k{n}", data, "EX", 86400) for n in range(sets)]
        if deletes:  # as the writer sends them: one DEL for the batch's ended calls
            commands.append(("DEL", *(f"d{n}" for n in range(deletes))))

        async def pipeline(sets: int = sets, deletes: int = deletes) -> object:
            pipe = client.pipeline(transaction=False)
            for n in range(sets):
                pipe.set(f"k{n}", data, ex=86400)
            for n in range(deletes):
                pipe.delete(f"d{n}")
            return await pipe.execute(raise_on_error=False)

        async def batch(commands: list[Command] = commands) -> object:
            return await batches.execute(commands)

        label = f"{sets} SET" + (f" + DEL of {deletes}" if deletes else "")
        ours = await best_async(batch, number // 2, repeat)
        theirs = await best_async(pipeline, number // 2, repeat)
        print(f"  batch of {label:14s}  Batches {ours:6.1f} us, redis-py Pipeline {theirs:6.1f} us")
    await client.aclose()
    await store.stop()
    await runtime.engine.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rtpgate-bench-redis-") as tmp:
        redis_proc, redis_port = start_redis(Path(tmp))
        try:
            asyncio.run(measure(redis_port, args.number, args.repeat))
        finally:
            redis_proc.kill()
            redis_proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
