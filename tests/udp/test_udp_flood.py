"""A hostile UDP flood against the ng listener: garbage, truncated bencode, huge dictionaries,
deep nesting and valid requests from 200 source addresses at once, for a few seconds.

While it lasts, valid requests still get answers (on the flooded socket, retransmitted as SIP
proxies do; on a second socket of the same server, within a second), and afterwards the server's
memory has grown by a bounded amount and, once the one call the flood's valid offers made is
deleted, it holds exactly the file descriptors it held before.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from ng_wire import cookie, ng_udp, open_fds, rss_kib
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

FLOOD_SECONDS = 4.0
FLOOD_MAX_DATAGRAMS = 400_000
SOURCES = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(200)]
OFFER = codec.encode({"command": "offer", "call-id": "flood", "from-tag": "ft",
                      "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                             "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"}, "bencode")


def hostile_payloads(rng: random.Random) -> Iterator[bytes]:
    huge_dict = b"d" + b"".join(b"5:k%04di%de" % (i, i) for i in range(5000)) + b"e"
    deep_bencode = b"d7:command4:ping1:a" + b"l" * 30000 + b"e" * 30000 + b"e"
    deep_dict = b"d1:a" * 12000 + b"i0e" + b"e" * 12000
    deep_json = b'{"command":"ping","a":' + b"[" * 30000 + b"]" * 30000 + b"}"
    kinds: list[Callable[[], bytes]] = [
        lambda: os.urandom(rng.randint(1, 1400)),
        lambda: cookie() + b" " + OFFER[:rng.randint(1, len(OFFER) - 1)],
        lambda: cookie() + b" " + huge_dict,
        lambda: cookie() + b" " + deep_bencode,
        lambda: cookie() + b" " + deep_dict,
        lambda: cookie() + b" " + deep_json,
        lambda: cookie() + b" {\"command\":",
        lambda: b"d7:command4:pinge",  # no cookie
        lambda: cookie() + b" d7:command4:pinge",
        lambda: cookie() + b" " + OFFER,  # valid (or "Unrecognized command" without an engine)
    ]
    while True:
        yield rng.choice(kinds)()


def flood(address: tuple[str, int], stop: threading.Event, sent: list[int]) -> None:
    rng = random.Random(7)
    sockets = []
    for source in SOURCES:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((source, 0))
        sock.setblocking(False)
        sockets.append(sock)
    count = 0
    deadline = time.monotonic() + FLOOD_SECONDS
    try:
        for payload in hostile_payloads(rng):
            if stop.is_set() or count >= FLOOD_MAX_DATAGRAMS or time.monotonic() > deadline:
                break
            try:
                sockets[count % len(sockets)].sendto(payload, address)
            except (BlockingIOError, OSError):
                time.sleep(0.0005)
            count += 1
    finally:
        for sock in sockets:
            sock.close()
        sent.append(count)


def ping_with_retransmits(address: tuple[str, int], tries: int = 20, interval: float = 0.3
                          ) -> float | None:
    """Seconds until a ping was answered, resending the same cookie every ``interval``."""
    key = cookie()
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.250", 0))
        sock.settimeout(interval)
        for _ in range(tries):
            sock.sendto(key + b" d7:command4:pinge", address)
            try:
                while True:
                    reply = sock.recv(65535)
                    if reply.startswith(key + b" "):
                        return time.monotonic() - started
            except TimeoutError:
                continue
    return None


@pytest.mark.slow
def test_flood_leaves_valid_requests_answered_memory_bounded_and_no_leak(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--listen-ng=127.0.0.1:0", "--listen-ng=127.0.0.1:0",
                            "--ng-cookie-lifetime=1", "--log-level=3", "--delete-delay=0")
    flooded, quiet = server.addresses("ng-udp")
    for _ in range(3):  # warm up: first requests import and allocate what later ones reuse
        ng_udp(flooded, {"command": "ping"})
    rss_before, fds_before = rss_kib(server), open_fds(server)

    stop, sent = threading.Event(), list[int]()
    flooder = threading.Thread(target=flood, args=(flooded, stop, sent))
    flooder.start()
    flooded_waits: list[float | None] = []
    quiet_waits: list[float | None] = []
    peak_rss = rss_before
    try:
        time.sleep(0.3)
        while flooder.is_alive():
            quiet_waits.append(ping_with_retransmits(quiet, tries=1, interval=1.0))
            flooded_waits.append(ping_with_retransmits(flooded))
            peak_rss = max(peak_rss, rss_kib(server))
    finally:
        stop.set()
        flooder.join()

    assert server.alive, server.log
    assert sent[0] > 10_000, f"the flood only sent {sent[0]} datagrams"
    assert flooded_waits and None not in flooded_waits, flooded_waits
    assert quiet_waits and None not in quiet_waits, quiet_waits
    assert max(w for w in quiet_waits if w is not None) < 1.0, quiet_waits
    time.sleep(1.5)  # in-flight work drains, the cookie cache swaps its generations out
    assert ng_udp(flooded, {"command": "ping"})["result"] == "pong"
    # the flood's valid offers made one call (its media sockets are fds): end it first
    ng_udp(flooded, {"command": "delete", "call-id": "flood", "from-tag": "ft"})
    assert open_fds(server) == fds_before
    growth_mib = (max(peak_rss, rss_kib(server)) - rss_before) / 1024
    assert growth_mib < 96, f"RSS grew by {growth_mib:.0f} MiB during the flood"
    assert "Traceback" not in server.log, server.log[-3000:]
