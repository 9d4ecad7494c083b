#!/usr/bin/env python3
"""offer -> answer -> delete cycles through the ng dispatcher in-process: no transport, no
client, so the time is the ng layer's and the engine's alone.

    .venv/bin/python bench/ng_cycles_profile.py [--cycles N] [--profile] [--sort tottime]

Prints microseconds per cycle; ``--profile`` adds a cProfile listing of the hot path.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import time

from rtpgate.boot import boot
from rtpgate.ngcommands import codec

SDP_OFFER = ("v=0\r\no=alice 1234567890 1234567890 IN IP4 127.0.0.1\r\ns=Talk\r\n"
             "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\n"
             "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
             "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
             "a=sendrecv\r\n")
SDP_ANSWER = ("v=0\r\no=bob 9876543210 9876543210 IN IP4 127.0.0.1\r\ns=Talk\r\n"
              "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\n"
              "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
              "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")


async def cycles(count: int) -> tuple[float, float]:
    runtime, _ = boot(["--config-file=none", "--delete-delay=0", "--port-min=50000",
                       "--port-max=59999", "--log-level=5"], env={})
    process = runtime.ng.process
    peer = ("127.0.0.1", 5060)
    # requests encoded up front (the client's work), with a call-id of fixed width to patch in
    templates = [codec.encode(msg, "bencode") for msg in (
        {"command": "offer", "call-id": "bench-00000000", "from-tag": "a", "sdp": SDP_OFFER},
        {"command": "answer", "call-id": "bench-00000000", "from-tag": "a", "to-tag": "b",
         "sdp": SDP_ANSWER},
        {"command": "delete", "call-id": "bench-00000000", "from-tag": "a"})]
    requests = [[t.replace(b"bench-00000000", b"bench-%08d" % n) for t in templates]
                for n in range(count)]
    started, cpu = time.perf_counter(), time.process_time()
    for cycle in requests:
        for payload in cycle:
            reply = await process(payload, peer, "http")
            assert reply.endswith(b"6:result2:oke"), reply
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await runtime.engine.stop()
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    elapsed, cpu = asyncio.run(cycles(args.cycles))
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(30)
    print(f"{args.cycles} cycles in {elapsed:.3f} s: {elapsed / args.cycles * 1e6:.0f} us per "
          f"cycle, {args.cycles / elapsed:.0f} cycles/s on one core; CPU "
          f"{cpu / args.cycles * 1e6:.0f} us per cycle (the process's CPU time: steadier than "
          "the clock on a shared machine)")


if __name__ == "__main__":
    main()
