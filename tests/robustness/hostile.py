"""The project's own hostile-input runner: every control surface of one rtpgate at once, for a
bounded time, on loopback only.

    python tests/robustness/hostile.py --seconds 600 [--json report.json]

starts a server on ephemeral loopback ports (or give ``--pid`` and the addresses of one that
runs), then for ``--seconds`` sends what a hostile network would: random bytes and malformed,
oversized, unknown-key and hostile-value ng messages over UDP, TCP, HTTP and WebSocket (unique
cookies, so the cookie cache fills), offers that allocate ports (and deletes), raw HTTP junk,
oversized heads and bodies, pipelining, slow-header (slowloris) clients, WebSocket junk, bad
close codes and churn, CLI garbage.  Meanwhile a checker sends a valid ping over every transport
twice a second and records any that is not answered within 5 s; the server's RSS and open file
descriptors are sampled every ``--sample`` seconds.  It never sends to anything but the
addresses given (loopback), and every attack keeps a bounded number of connections.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import websockets
from rtpgate.ngcommands import codec

SDP = ("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0 8\r\na=sendrecv\r\n")
NG_KEYS = ["call-id", "from-tag", "to-tag", "sdp", "flags", "replace", "ICE", "direction",
           "delete-delay", "TOS", "ptime", "codec", "supports", "label", "rtcp-mux",
           "transport-protocol", "received-from", "sdp-attr", "limit", "all"]
COMMANDS = ["ping", "offer", "answer", "delete", "query", "list", "statistics", "block media",
            "start recording", "cli", "nope", ""]
#: Hostile offers use this many call-ids, so they cannot make more calls than that (the calls
#: of valid offers are deleted at once); max-sessions is what bounds calls in production.
CALL_POOL = 50
SUBPROTOCOLS = ["ng.rtpengine.com", "ng-plain.rtpengine.com", "cli.rtpengine.com",
                "echo.rtpengine.com", "junk.example"]


@dataclass
class Target:
    #: the processes that serve (the workers at ``--num-threads`` above 1, else the server):
    #: their RSS and descriptors are summed, so the samples are the whole server's
    pids: tuple[int, ...]
    http: tuple[str, int]
    ng_udp: tuple[str, int]
    ng_tcp: tuple[str, int]
    cli_tcp: tuple[str, int]

    def __post_init__(self) -> None:
        for address in (self.http, self.ng_udp, self.ng_tcp, self.cli_tcp):
            if not address[0].startswith("127.") and address[0] != "::1":
                raise ValueError(f"{address}: the hostile runner only targets loopback")


@dataclass
class Report:
    seconds: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)
    checks: int = 0
    check_failures: list[str] = field(default_factory=list)
    check_max_latency_ms: float = 0.0
    #: (seconds since start, RSS KiB, open fds)
    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def count(self, what: str, n: int = 1) -> None:
        self.sent[what] = self.sent.get(what, 0) + n

    @property
    def inputs(self) -> int:
        return sum(self.sent.values())


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmRSS:")))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def usage(pids: tuple[int, ...]) -> tuple[int, int]:
    """RSS (KiB) and open descriptors of these processes together."""
    return sum(rss_kib(pid) for pid in pids), sum(open_fds(pid) for pid in pids)


# ---------------------------------------------------------------------- generators

def bvalue(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(6 if depth < 3 else 3)
    if kind == 0:
        return rng.choice([0, -1, 2**63, -(2**70), rng.randrange(-1000, 1000)])
    if kind == 1:
        return rng.choice([b"", b"0", b"-", b"\xff\xfe", b"x" * rng.randrange(200),
                           SDP.format(port=rng.randrange(65536)).encode()])
    if kind == 2:
        return rng.randbytes(rng.randrange(40))
    if kind == 3:
        return [bvalue(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {rng.randbytes(rng.randrange(1, 10)): bvalue(rng, depth + 1)
            for _ in range(rng.randrange(4))}


def bencode(value: Any) -> bytes:
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return b"%d:%s" % (len(value), value)


def ng_payload(rng: random.Random, serial: int) -> bytes:
    """One hostile ng payload (without the cookie)."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randrange(300))
    if kind == 1:  # unknown keys by the thousand
        return bencode({"command": "ping", **{f"u{serial}-{i}": i
                                              for i in range(rng.randrange(100, 3000))}})
    if kind == 2:  # truncated or corrupted bencode
        data = bencode({"command": rng.choice(COMMANDS), "call-id": b"x"})
        return data[:rng.randrange(len(data))]
    if kind == 3:  # many media sections, or many lines
        medias = rng.choice([10, 129, 400])
        body = "v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + \
            "".join(f"m=audio {6000 + 2 * i} RTP/AVP 0\r\n" for i in range(medias))
        return bencode({"command": "offer", "call-id": f"h{serial % CALL_POOL}",
                        "from-tag": "a", "sdp": body})
    if kind == 4:  # JSON junk
        return json.dumps({"command": rng.choice(COMMANDS),
                           rng.choice(NG_KEYS): rng.choice([None, [], {}, "", 1e308, "\u0000"])
                           }).encode()
    request: dict[Any, Any] = {"command": rng.choice(COMMANDS),
                               "call-id": f"h{serial % CALL_POOL}",
                               "from-tag": "a", "sdp": SDP.format(port=6000)}
    for _ in range(rng.randrange(1, 5)):
        request[rng.choice(NG_KEYS).encode()] = bvalue(rng)
    return bencode(request)


# ---------------------------------------------------------------------- attacks

class Runner:
    def __init__(self, target: Target, seconds: float, seed: int, sample: float) -> None:
        self.target = target
        self.seconds = seconds
        self.rng = random.Random(seed)
        self.sample = sample
        self.report = Report()
        self.started = 0.0
        self.deadline = 0.0
        self.serial = 0
        #: the checker's own cookies (it runs in a thread of its own)
        self.check_serial = itertools.count(1)

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def next_serial(self) -> int:
        self.serial += 1
        return self.serial

    async def run(self) -> Report:
        self.started = time.monotonic()
        self.deadline = self.started + self.seconds
        tasks = [self.ng_udp(), self.ng_tcp(), self.ng_http(), self.http_junk(),
                 self.slowloris(), self.websockets(), self.ws_churn(), self.cli(),
                 self.calls(), self.sampler()]
        # The checker measures the server's answers, not this loop's queue: on its own event
        # loop in a thread, it does not wait behind every flood task's turn (on a loaded machine,
        # and with the server's two workers competing for the cores, it managed 80 checks in
        # 126 s, its latencies this loop's).
        checker = threading.Thread(target=asyncio.run, args=(self.checker(),),
                                   name="hostile-checker")
        checker.start()
        try:
            await asyncio.gather(*tasks)
        finally:
            checker.join()
        self.report.seconds = time.monotonic() - self.started
        self.report.samples.append((self.report.seconds, *usage(self.target.pids)))
        return self.report

    async def sampler(self) -> None:
        while self.running():
            self.report.samples.append((round(time.monotonic() - self.started, 1),
                                        *usage(self.target.pids)))
            await asyncio.sleep(self.sample)

    async def ng_udp(self) -> None:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            while self.running():
                for _ in range(5):
                    payload = b"u%d " % self.next_serial() + ng_payload(self.rng, self.serial)
                    with contextlib.suppress(OSError):
                        sock.sendto(payload[:65000], self.target.ng_udp)
                        self.report.count("ng-udp")
                with contextlib.suppress(BlockingIOError, OSError):
                    while True:
                        sock.recv(65535)  # drain replies
                await asyncio.sleep(0.02)
        del loop

    async def ng_tcp(self) -> None:
        while self.running():
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target.ng_tcp), 5)
                for _ in range(self.rng.randrange(1, 20)):
                    if self.rng.random() < 0.3:
                        writer.write(self.rng.randbytes(self.rng.randrange(2000)))
                    else:
                        writer.write(b"t%d " % self.next_serial() +
                                     ng_payload(self.rng, self.serial))
                    self.report.count("ng-tcp")
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await asyncio.wait_for(writer.drain(), 2)
                    await asyncio.wait_for(reader.read(65536), 0.2)
                writer.close()
            await asyncio.sleep(0.02)

    async def ng_http(self) -> None:
        """ng over HTTP on a keep-alive connection, every request with a new cookie."""
        while self.running():
            with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target.http), 5)
                for _ in range(50):
                    path = self.rng.choice([b"/ng", b"/ng-plain"])
                    body = (b"w%d-%s " % (self.next_serial(), self.rng.randbytes(8).hex().encode())
                            if path == b"/ng" else b"") + ng_payload(self.rng, self.serial)
                    writer.write(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/"
                                 b"x-rtpengine-ng\r\nContent-Length: %d\r\n\r\n%s"
                                 % (path, len(body), body))
                    self.report.count("ng-http")
                    await asyncio.wait_for(self._read_response(reader), 5)
                writer.close()

    async def _read_response(self, reader: asyncio.StreamReader) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)

    async def http_junk(self) -> None:
        junk = [
            lambda: self.rng.randbytes(self.rng.randrange(1, 3000)),
            lambda: b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
            lambda: b"GET / HTTP/1.1\r\n" + b"X-H: y\r\n" * 5000 + b"\r\n",
            lambda: b"POST /ng HTTP/1.1\r\nContent-Type: application/x-rtpengine-ng\r\n"
                    b"Content-Length: 5000000\r\n\r\n" + b"x" * 60000,
            lambda: b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" * 100,
            lambda: b"POST /cli HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: "
                    b"200000\r\n\r\n" + self.rng.randbytes(200000),
            lambda: b"GET /metrics HTTP/1.1\r\n\r\n",
            lambda: b"DELETE /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ]
        while self.running():
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target.http), 5)
                writer.write(self.rng.choice(junk)())
                self.report.count("http-junk")
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await asyncio.wait_for(writer.drain(), 2)
                    await asyncio.wait_for(reader.read(1 << 20), 0.5)
                writer.close()

    async def slowloris(self, connections: int = 40) -> None:
        async def one() -> None:
            while self.running():
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    _, writer = await asyncio.wait_for(
                        asyncio.open_connection(*self.target.http), 5)
                    writer.write(b"GET /ping HTTP/1.1\r\n")
                    self.report.count("slowloris")
                    while self.running() and not writer.is_closing():
                        writer.write(b"X")
                        await asyncio.wait_for(writer.drain(), 2)
                        await asyncio.sleep(1)
                    writer.close()
                await asyncio.sleep(0.1)
        await asyncio.gather(*(one() for _ in range(connections)))

    async def websockets(self, connections: int = 20) -> None:
        async def one() -> None:
            while self.running():
                sub = self.rng.choice(SUBPROTOCOLS)
                with contextlib.suppress(Exception):
                    async with websockets.connect(
                            f"ws://{self.target.http[0]}:{self.target.http[1]}/",
                            subprotocols=[sub], open_timeout=5, close_timeout=2,  # type: ignore[list-item]
                            max_size=None) as conn:
                        for _ in range(self.rng.randrange(1, 40)):
                            payload = b"s%d-%s " % (self.next_serial(),
                                                    self.rng.randbytes(6).hex().encode())
                            await conn.send(payload + ng_payload(self.rng, self.serial))
                            self.report.count("ws")
                            with contextlib.suppress(asyncio.TimeoutError):
                                await asyncio.wait_for(conn.recv(), 0.2)
                        if self.rng.random() < 0.2:
                            await conn.send(os.urandom(self.rng.choice([1 << 20, 4 << 20])))
                            self.report.count("ws-large")
                await asyncio.sleep(0.01)
        await asyncio.gather(*(one() for _ in range(connections)))

    async def ws_churn(self) -> None:
        """Handshakes with bad close codes, masks and frames on raw sockets."""
        while self.running():
            with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target.http), 5)
                writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: "
                             b"Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: "
                             b"echo.rtpengine.com\r\n\r\n")
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                code = self.rng.choice([0, 999, 1000, 1004, 1005, 1006, 1016, 2999, 4000])
                frame = self.rng.choice([
                    bytes([0x88, 0x82, 0, 0, 0, 0]) + code.to_bytes(2, "big"),
                    self.rng.randbytes(self.rng.randrange(1, 200)),
                    bytes([0x82, 0xFF]) + (1 << 62).to_bytes(8, "big")])
                writer.write(frame)
                self.report.count("ws-raw")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(reader.read(1000), 0.5)
                writer.close()
            await asyncio.sleep(0.005)

    async def cli(self) -> None:
        lines = [lambda: self.rng.randbytes(self.rng.randrange(1, 1500)),
                 lambda: b"list sessions all\n", lambda: b"list totals\n",
                 lambda: b"set loglevel 6\n", lambda: b"x" * 5000,
                 lambda: b"terminate h%d\n" % self.rng.randrange(self.serial + 1)]
        while self.running():
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target.cli_tcp), 5)
                writer.write(self.rng.choice(lines)())
                self.report.count("cli")
                with contextlib.suppress(OSError, asyncio.TimeoutError):
                    await asyncio.wait_for(reader.read(1 << 20), 1)
                writer.close()
            await asyncio.sleep(0.01)

    async def calls(self) -> None:
        """Valid offers that allocate ports, then their deletes (over TCP)."""
        while self.running():
            with contextlib.suppress(OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.target.ng_tcp), 5)
                while self.running():
                    call_id = f"call{self.next_serial()}"
                    for request in ({"command": "offer", "call-id": call_id, "from-tag": "a",
                                     "sdp": SDP.format(port=6000)},
                                    {"command": "delete", "call-id": call_id,
                                     "delete-delay": 0}):
                        writer.write(b"c%d " % self.next_serial() +
                                     codec.encode(request, "bencode"))
                        self.report.count("calls")
                        await asyncio.wait_for(reader.read(65536), 5)
                    await asyncio.sleep(0.02)

    async def checker(self) -> None:
        """A valid ping over UDP, TCP, HTTP and WebSocket twice a second: answered in 5 s?"""
        loop = asyncio.get_running_loop()

        async def udp() -> None:
            """As ng clients do over UDP: the same cookie again every second until answered
            (a datagram may be dropped from a full queue under a flood; the cookie cache
            answers the retransmission)."""
            cookie = b"chk%d" % next(self.check_serial)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.setblocking(False)
                await loop.sock_connect(sock, self.target.ng_udp)
                while True:
                    await loop.sock_sendall(sock, cookie + b" d7:command4:pinge")
                    with contextlib.suppress(asyncio.TimeoutError):
                        reply = await asyncio.wait_for(loop.sock_recv(sock, 1000), 1)
                        assert reply == cookie + b" d6:result4:ponge", reply
                        return

        async def tcp() -> None:
            reader, writer = await asyncio.open_connection(*self.target.ng_tcp)
            writer.write(b"chk%d d7:command4:pinge" % next(self.check_serial))
            assert (await reader.read(1000)).endswith(b"d6:result4:ponge")
            writer.close()

        async def http() -> None:
            reader, writer = await asyncio.open_connection(*self.target.http)
            writer.write(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            writer.close()

        async def ws() -> None:
            async with websockets.connect(f"ws://{self.target.http[0]}:{self.target.http[1]}/",
                                          subprotocols=["ng.rtpengine.com"],  # type: ignore[list-item]
                                          open_timeout=5) as conn:
                await conn.send(b"chk d7:command4:pinge")
                assert await conn.recv() == b"chk d6:result4:ponge"

        while self.running():
            for name, check in (("udp", udp), ("tcp", tcp), ("http", http), ("ws", ws)):
                started = time.monotonic()
                try:
                    await asyncio.wait_for(check(), 5)
                except Exception as exc:
                    self.report.check_failures.append(
                        f"{time.monotonic() - self.started:.1f}s {name}: {exc!r}")
                latency = (time.monotonic() - started) * 1000
                self.report.check_max_latency_ms = max(self.report.check_max_latency_ms,
                                                       latency)
                self.report.checks += 1
            await asyncio.sleep(0.5)


def run(target: Target, seconds: float, seed: int = 1, sample: float = 10.0) -> Report:
    return asyncio.run(Runner(target, seconds, seed, sample).run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sample", type=float, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args(argv)
    from rtpgate.testing import ServerProcess

    server = ServerProcess(["--delete-delay=0", "--listen-http=127.0.0.1:0",
                            "--listen-ng=127.0.0.1:0", "--listen-tcp-ng=127.0.0.1:0",
                            "--listen-cli=127.0.0.1:0", "--log-level=5"]).start()
    try:
        target = Target(tuple(server.serving_pids), server.address("http"),
                        server.address("ng-udp"), server.address("ng-tcp"),
                        server.address("cli-tcp"))
        report = run(target, args.seconds, args.seed, args.sample)
    finally:
        code = server.stop()
    data = asdict(report) | {"inputs": report.inputs, "exit": code}
    print(json.dumps({k: v for k, v in data.items() if k != "samples"}, indent=1))
    for at, rss, fds in report.samples:
        print(f"{at:7.1f} s  RSS {rss / 1024:7.1f} MiB  fds {fds}")
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 0 if not report.check_failures and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
