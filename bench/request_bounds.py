#!/usr/bin/env python3
"""How long the largest requests rtpgate accepts hold its one event loop.

    .venv/bin/python bench/request_bounds.py [--repeat 20]

Each case is sent ``--repeat`` times, one after the other, to an otherwise idle rtpgate on
loopback; the server's CPU time per request (``/proc/<pid>/stat``: on the single-threaded loop
that is how long the request kept every other client waiting) and the client's median round
trip are printed.  The cases are the limits of issue 11: the most items an ng message may hold
(``--ng-max-items``), far more than that (decoding stops at the limit), the most media sections
(``--max-media-sections``, an offer and its delete) and SDP lines (``--max-sdp-lines``), a 1 MiB
body of garbage, and a ping for scale.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import time
from collections.abc import Callable

from servers import cpu_seconds, rtpgate

SDP_HEAD = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"


def bencode(value: object) -> bytes:
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    data = value.encode() if isinstance(value, str) else value
    assert isinstance(data, bytes)
    return b"%d:%s" % (len(data), data)


def sdp(medias: int, attributes: int = 0) -> str:
    return SDP_HEAD + "".join(f"m=audio {6000 + 2 * i} RTP/AVP 0\r\n" +
                              "".join("a=x:1\r\n" for _ in range(attributes))
                              for i in range(medias))


def cases() -> list[tuple[str, Callable[[int], list[bytes]]]]:
    def ng(request: dict[str, object]) -> Callable[[int], list[bytes]]:
        return lambda i: [bencode(request)]

    def offer_delete(body: str) -> Callable[[int], list[bytes]]:
        return lambda i: [bencode({"command": "offer", "call-id": f"b{i}", "from-tag": "a",
                                   "sdp": body}),
                          bencode({"command": "delete", "call-id": f"b{i}",
                                   "delete-delay": 0})]

    return [
        ("ping", ng({"command": "ping"})),
        ("2,046 items (limit)", ng({"command": "ping", **{f"k{i}": i for i in range(1022)}})),
        ("50,000 keys (refused)", ng({"command": "ping",
                                       **{f"k{i}": i for i in range(50_000)}})),
        ("offer+delete, 1 media", offer_delete(sdp(1))),
        ("offer+delete, 32 media (limit)", offer_delete(sdp(32))),
        ("offer+delete, 128 media", offer_delete(sdp(128))),
        ("offer, 1,000 media (refused)", offer_delete(sdp(1000))),
        ("offer+delete, 4,094 SDP lines (limit)", offer_delete(sdp(1, 4086))),
        ("1 MiB of garbage (refused)", lambda i: [b"d" + b"x" * ((1 << 20) - 100)]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with rtpgate(["--listen-http=127.0.0.1:0", "--delete-delay=0", "--log-level=4",
                  "--max-media-sections=128",
                  "--port-min=41000", "--port-max=45000"]) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port("http"), timeout=60)
        print(f"{'case':40} {'bytes':>9} {'server CPU ms/request':>22} {'round trip ms':>14}")
        for number, (name, make) in enumerate(cases()):
            sizes, trips, results = 0, [], set()
            cpu = cpu_seconds(server.pid)
            requests = 0
            for i in range(args.repeat):
                for part, payload in enumerate(make(i)):
                    cookie = b"c%d-%d-%d" % (number, i, part)  # unique: no cookie-cache replay
                    body = cookie + b" " + payload
                    sizes = max(sizes, len(body))
                    started = time.perf_counter()
                    conn.request("POST", "/ng", body,
                                 {"Content-Type": "application/x-rtpengine-ng"})
                    reply = conn.getresponse().read()
                    trips.append((time.perf_counter() - started) * 1000)
                    assert reply.startswith(cookie + b" "), reply[:100]
                    results.add(reply.split(b"6:result", 1)[-1][:60].decode("latin-1"))
                    requests += 1
            per_request = (cpu_seconds(server.pid) - cpu) * 1000 / requests
            print(f"{name:40} {sizes:9d} {per_request:22.2f} {statistics.median(trips):14.2f}  "
                  f"{' / '.join(sorted(results))}")
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
