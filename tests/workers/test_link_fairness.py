"""A flood landing on one worker, for a call another worker owns, must not starve that other
worker's own clients (``--num-threads=2``, over real sockets).

Every valid offer of the flood is forwarded over the workers' link to the call's owner.  The
flooded worker keeps a bounded number of them in flight per listener and drops the rest, as a
full socket buffer drops a datagram (the sender retransmits), and the owner starts a few of
its sibling's requests per turn of its loop, between which it reads its own sockets
(docs/architecture.md, "Workers sharded by call-id").  So a client whose datagrams land on the
owner gets its answers while the flood lasts, within the second the UDP flood test gives its
quiet socket (``tests/udp/test_udp_flood.py``).  Before, the owner ran everything forwarded to
it as it came, and that client waited behind hundreds of the flood's offers.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from rtpgate.ngcommands import codec
from rtpgate.testing import LOCAL, ServerProcess, audio_sdp, media_ports
from rtpgate.testing import cli_text as cli
from rtpgate.workers.budget import LIMIT
from rtpgate.workers.shard import owner as owner_of
from workers_wire import NgSocket, call_id_of, landing_worker, unique

FLOOD_SECONDS = 4.0
#: Datagrams sent every 10 ms.
BURST = 200
#: ng listeners, each flooded from a socket landing on worker 0.
LISTENERS = 2
#: Streams in each offer of the flood.
STREAMS = 8
#: Requests each TCP connection sends at once.
PIPELINED = 3



def cookies_kept_by(worker: int, count: int) -> list[bytes]:
    """``count`` fresh cookies that hash to ``worker``: a request with one goes there first."""
    found: list[bytes] = []
    while len(found) < count:
        candidate = unique("flood")
        if owner_of(candidate, 2) == worker:
            found.append(candidate.encode())
    return found


def offers(call_id: str, cookies: list[bytes]) -> list[bytes]:
    """Re-offers of ``call_id`` with :data:`STREAMS` audio streams as SDES-secured RTP, one
    per cookie: much work for the owner (a stream each, with its crypto suites) in a short
    datagram."""
    streams = "".join(f"m=audio {50000 + 2 * i} RTP/AVP 0\r\n" for i in range(STREAMS))
    sdp = f"v=0\r\no=a 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n{streams}"
    body = codec.encode({"command": "offer", "call-id": call_id, "from-tag": "a", "sdp": sdp,
                         "transport-protocol": "RTP/SAVP"}, "bencode")
    return [cookie + b" " + body for cookie in cookies]


def flood(targets: list[NgSocket], datagrams: list[bytes], stop: threading.Event,
          sent: list[int]) -> None:
    """Send ``datagrams`` round and round from each target's socket to its listener (so each
    lands on that socket's worker), :data:`BURST` every 10 ms (far more than one worker
    forwards; more would only take the machine's CPU from the server), for
    :data:`FLOOD_SECONDS`."""
    count = 0
    deadline = time.monotonic() + FLOOD_SECONDS
    for target in targets:
        target.sock.setblocking(False)
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            for _ in range(BURST):
                target = targets[count % len(targets)]
                with contextlib.suppress(BlockingIOError):  # the kernel drops it: so be it
                    target.sock.sendto(datagrams[count % len(datagrams)], target.address)
                count += 1
            time.sleep(0.01)
    finally:
        sent.append(count)


def landing_on(server: ServerProcess, address: tuple[str, int], worker: int) -> NgSocket:
    """A socket whose datagrams to ``address`` (one of the ng listeners) land on ``worker``."""
    for _ in range(64):
        ng = NgSocket(server)
        ng.address = address
        if landing_worker(ng) == worker:
            return ng
        ng.close()
    raise AssertionError(f"64 sockets, none landing on worker {worker}")


def ask(ng: NgSocket, cookie: bytes, request: dict[str, Any], timeout: float
        ) -> tuple[float, dict[str, Any]] | None:
    """One request (no retransmission): seconds until its reply came, and the reply; ``None``
    without one within ``timeout``.  Replies to other cookies (the flood's) are skipped."""
    started = time.monotonic()
    ng.sock.setblocking(True)
    ng.sock.settimeout(timeout)
    ng.sock.sendto(cookie + b" " + codec.encode(request, "bencode"), ng.address)
    try:
        while True:
            reply = ng.sock.recv(65535)
            if reply.startswith(cookie + b" "):
                decoded = codec.decode(reply[len(cookie) + 1:])[0]
                return time.monotonic() - started, decoded
    except TimeoutError:
        return None


def ping_once(ng: NgSocket, cookie: bytes, timeout: float) -> float | None:
    """Seconds until one ping was answered, or ``None``."""
    answered = ask(ng, cookie, {"command": "ping"}, timeout)
    return answered[0] if answered is not None else None


def test_a_flood_forwarded_to_the_owner_leaves_the_owners_own_clients_answered(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """Worker 0 is flooded on :data:`LISTENERS` sockets with offers for a call worker 1 owns;
    meanwhile a client whose datagrams land on worker 1 pings it, each ping sent once and
    answered within the second the UDP flood test gives its quiet socket (its cookie hashes
    to worker 1 too: nothing of its own goes over the link)."""
    server = rtpgate_server(*["--listen-ng=127.0.0.1:0"] * LISTENERS,
                            "--listen-http=127.0.0.1:0", "--num-threads=2", "--log-level=7",
                            "--delete-delay=0", *media_ports(200))
    # where each socket lands is learnt from the debug log; then no debug line per request
    flooded = [landing_on(server, address, 0) for address in server.addresses("ng-udp")]
    owner = landing_on(server, server.address("ng-udp"), 1)
    assert "Success" in cli(server, "set loglevel 6")
    call_id = call_id_of(1, prefix="flooded")
    datagrams = offers(call_id, cookies_kept_by(1, 10_000))
    first = ask(owner, unique("first").encode(), codec.decode(datagrams[0].split(b" ", 1)[1])[0],
                5.0)
    assert first is not None and first[1]["result"] == "ok", first  # the flood's are valid
    own_cookies = iter(cookies_kept_by(1, 1000))

    stop, sent = threading.Event(), list[int]()
    flooder = threading.Thread(target=flood, args=(flooded, datagrams, stop, sent))
    flooder.start()
    waits: list[float | None] = []
    try:
        time.sleep(0.3)
        while flooder.is_alive():
            waits.append(ping_once(owner, next(own_cookies), timeout=1.0))
            time.sleep(0.05)
    finally:
        stop.set()
        flooder.join()

    assert server.alive, server.log
    assert sent[0] > 10_000, f"the flood only sent {sent[0]} datagrams"
    assert waits and None not in waits, waits
    assert max(w for w in waits if w is not None) < 1.0, waits
    # the flooded worker dropped what it could not forward, and said so (rate-limited)
    assert re.search(r"worker 0: udp request from 127\.0\.0\.1:\d+ dropped", server.log), \
        server.log[-3000:]
    # and both still serve: a flooded socket's request (retransmitted, as a client does: the
    # flood's backlog may still take the places for a moment), the call on its owner
    query = {"command": "query", "call-id": call_id}
    key = unique("after").encode()
    answered = next(filter(None, (ask(flooded[0], key, query, 0.5) for _ in range(20))), None)
    assert answered is not None and answered[1]["result"] == "ok", answered
    delete = {"command": "delete", "call-id": call_id, "from-tag": "a"}
    deleted = ask(owner, unique("delete").encode(), delete, 5.0)
    assert deleted is not None and deleted[1]["result"] == "ok", deleted
    assert "Traceback" not in server.log, server.log[-3000:]


def frame(cookie: bytes, request: dict[str, Any]) -> bytes:
    return cookie + b" " + codec.encode(request, "bencode")


def read_replies(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    """``count`` ``cookie SP bencode`` replies from a TCP stream, decoded."""
    buffer, replies = b"", list[dict[str, Any]]()
    while len(replies) < count:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {len(replies)} of {count} replies"
        buffer += chunk
        while (space := buffer.find(b" ")) >= 0:
            try:
                length = codec.bencode_prefix_length(buffer[space + 1:])
            except ValueError:
                break  # incomplete
            replies.append(codec.decode(buffer[space + 1:space + 1 + length])[0])
            buffer = buffer[space + 1 + length:]
    return replies


def test_requests_over_streams_beyond_the_budget_wait_and_are_all_answered(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """ng over TCP is never dropped: more connections than a listener's places at the sibling
    (:data:`rtpgate.workers.budget.LIMIT`) each send their requests at once for a call the
    other worker owns, and every request gets its reply (those beyond the places wait)."""
    server = rtpgate_server("--listen-tcp-ng=127.0.0.1:0", "--num-threads=2",
                            "--delete-delay=0", *media_ports(100))
    call_id = call_id_of(1, prefix="streams")
    connections = [socket.create_connection(server.address("ng-tcp"), timeout=30.0)
                   for _ in range(4 * LIMIT)]
    try:
        connections[0].sendall(frame(b"offer", {"command": "offer", "call-id": call_id,
                                                "from-tag": "a", "sdp": audio_sdp("a", 50000)}))
        created = read_replies(connections[0], 1)
        assert created[0]["result"] == "ok", created
        query = {"command": "query", "call-id": call_id}
        for sock in connections:  # all written before any is read: the places run out
            sock.sendall(b"".join(frame(f"{id(sock)}-{i}".encode(), query)
                                  for i in range(PIPELINED)))
        for sock in connections:
            replies = read_replies(sock, PIPELINED)
            assert [r["result"] for r in replies] == ["ok"] * PIPELINED, replies
    finally:
        for sock in connections:
            sock.close()
    assert "dropped" not in server.log, server.log[-3000:]
    assert "Traceback" not in server.log, server.log[-3000:]
