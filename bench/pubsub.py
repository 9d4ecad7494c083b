#!/usr/bin/env python3
"""Publish/subscribe fan-out: relay CPU per delivered packet with one publisher and 1, 10 and 50
subscribers, rtpgate and rtpengine 10.5 (userspace) in the same run.

    .venv/bin/python bench/pubsub.py [--seconds 5] [--subscribers 1,10,50] [--rounds 1]
                                     [--no-rtpengine] [--total-pps 20000] [--python-relay]
                                     [--block K]

Each server is started on its own loopback ports (rtpengine with
``../shared/tools/start-rtpengine.sh``; rtpgate as ``python -m rtpgate`` from this interpreter)
and driven over ng/UDP: ``publish`` of one PCMU stream, then per subscriber ``subscribe
request`` and ``subscribe answer`` naming one of this process's sockets.  A separate sender
process sends RTP to the publisher's port at ``min(2000, total-pps / N)`` packets a second for
``--seconds``; this process receives on every subscriber socket and counts.  The relay's CPU
time (``/proc/PID/stat``) over the window divided by the packets delivered is the figure; the
ratio is rtpgate / rtpengine.  ``--python-relay`` also runs rtpgate with its pure-Python read
loop (``RTPGATE_NATIVE_RELAY=0``) in each round.  ``--block K`` puts both servers on helper K's
ports (ng 41000 + 100 K + 23 for rtpengine, + 50 for rtpgate; media 20000 + 1000 K, rtpengine
the lower half); the default, 6, is the block the bench always used.  Loopback only; every step
is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import selectors
import socket
import struct
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from servers import (
    alternating_rounds,
    block_rtpengine_extra,
    block_rtpengine_ng,
    block_rtpgate_args,
    block_rtpgate_ng,
    cpu_seconds,
    reference_rtpengine,
    rtpgate,
)

LOCAL = "127.0.0.1"
#: The helper block of ports (servers.py) the bench always used.
DEFAULT_BLOCK = 6
rtpengine_ng, rtpengine_extra = block_rtpengine_ng, block_rtpengine_extra
rtpgate_ng, rtpgate_args = block_rtpgate_ng, block_rtpgate_args


RTPENGINE = "rtpengine 10.5 userspace"


def bencode(obj: Any) -> bytes:
    if isinstance(obj, int):
        return b"i%de" % obj
    if isinstance(obj, str):
        obj = obj.encode()
    if isinstance(obj, bytes):
        return b"%d:%s" % (len(obj), obj)
    if isinstance(obj, list):
        return b"l" + b"".join(bencode(x) for x in obj) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in obj.items()) + b"e"


def ng(port: int, msg: dict[str, Any]) -> str:
    """One ng request over UDP; the raw reply (this tool only needs its SDP and status)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        cookie = uuid.uuid4().hex[:8].encode()
        sock.sendto(cookie + b" " + bencode(msg), (LOCAL, port))
        reply = sock.recv(65535).decode(errors="replace")
    if "6:result2:ok" not in reply:
        raise RuntimeError(f"{msg['command']}: {reply}")
    return reply


def media_port(reply: str) -> int:
    found = re.search(r"m=audio (\d+) ", reply)
    if not found:
        raise RuntimeError(reply)
    return int(found.group(1))


def sdp(port: int, direction: str) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=bench\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
            f"c=IN IP4 {LOCAL}\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n")


def sender(port: int, pps: int, seconds: float, source: int) -> None:
    """Send PCMU-sized RTP to ``port`` at ``pps`` for ``seconds`` (paced in 1 ms slices)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCAL, source))
        payload = b"\xff" * 160
        start = time.monotonic()
        sent = 0
        while True:
            elapsed = time.monotonic() - start
            if elapsed >= seconds:
                return
            due = int(elapsed * pps)
            while sent < due:
                sock.sendto(struct.pack("!BBHII", 0x80, 0, sent & 0xFFFF, sent * 160, 0x5EED)
                            + payload, (LOCAL, port))
                sent += 1
            time.sleep(0.001)


def bound_pair() -> tuple[socket.socket, socket.socket]:
    while True:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((LOCAL, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((LOCAL, port + 1))
                return rtp, rtcp
            except OSError:
                rtcp.close()
        rtp.close()


def run(ng_port: int, pid: int, subscribers: int, seconds: float, total_pps: int) -> dict:
    call_id = uuid.uuid4().hex
    source_rtp, source_rtcp = bound_pair()
    source_port = source_rtp.getsockname()[1]
    source_rtp.close()  # the sender process binds it
    relay_port = media_port(ng(ng_port, {"command": "publish", "call-id": call_id,
                                         "from-tag": "pub",
                                         "sdp": sdp(source_port, "sendonly")}))
    sockets = []
    try:
        for n in range(subscribers):
            rtp, rtcp = bound_pair()
            sockets += [rtp, rtcp]
            rtp.setblocking(False)
            tag = f"sub{n}"
            ng(ng_port, {"command": "subscribe request", "call-id": call_id, "from-tag": "pub",
                         "to-tag": tag})
            ng(ng_port, {"command": "subscribe answer", "call-id": call_id, "to-tag": tag,
                         "sdp": sdp(rtp.getsockname()[1], "recvonly")})
        pps = max(50, min(2000, total_pps // subscribers))
        selector = selectors.DefaultSelector()
        for sock in sockets[::2]:
            selector.register(sock, selectors.EVENT_READ)
        proc = multiprocessing.Process(target=sender,
                                       args=(relay_port, pps, seconds, source_port))
        before = cpu_seconds(pid)
        proc.start()
        delivered = 0
        deadline = time.monotonic() + seconds + 1.0
        while time.monotonic() < deadline:
            for key, _ in selector.select(0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                while True:
                    try:
                        sock.recv(2048)
                    except BlockingIOError:
                        break
                    delivered += 1
        cpu = cpu_seconds(pid) - before
        proc.join(5)
        expected = int(pps * seconds) * subscribers
        return {"subscribers": subscribers, "source_pps": pps, "delivered": delivered,
                "expected": expected, "cpu_s": round(cpu, 3),
                "cpu_us_per_delivered": round(cpu / delivered * 1e6, 2) if delivered else None}
    finally:
        for sock in sockets:
            sock.close()
        source_rtcp.close()
        ng(ng_port, {"command": "delete", "call-id": call_id})


def series(label: str, ng_port: int, pid: int, args: argparse.Namespace) -> list[dict]:
    out = []
    for count in args.subscribers:
        result = run(ng_port, pid, count, args.seconds, args.total_pps)
        result["label"] = label
        result["load"] = Path("/proc/loadavg").read_text().split()[0]
        print(json.dumps(result), flush=True)
        out.append(result)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--subscribers", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 10, 50])
    parser.add_argument("--total-pps", type=int, default=20000,
                        help="delivered packets a second aimed at (source rate = this / N, "
                             "at most 2,000)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--python-relay", action="store_true",
                        help="also rtpgate with RTPGATE_NATIVE_RELAY=0 in each round")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK,
                        help="the helper block of ports both servers use")
    args = parser.parse_args()
    results: list[dict] = []

    def gate(python_relay: bool) -> None:
        label = "rtpgate (Python relay)" if python_relay else "rtpgate"
        with rtpgate(rtpgate_args(args.block), python_relay=python_relay) as server:
            results.extend(series(label, rtpgate_ng(args.block), server.pid, args))

    def engine() -> None:
        with reference_rtpengine(rtpengine_extra(args.block)) as pid:
            results.extend(series(RTPENGINE, rtpengine_ng(args.block), pid, args))

    alternating_rounds(args.rounds, gate, engine, args.python_relay, not args.no_rtpengine,
                       lambda load: None)
    print(f"# one publisher, N subscribers, PCMU 20 ms packets, {os.cpu_count()} cores, "
          "loopback; sender, receiver and relay share the cores")
    print("| N | source pps | server | delivered / expected | relay CPU µs per delivered "
          "packet | load |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['subscribers']} | {r['source_pps']} | {r['label']} | {r['delivered']} / "
              f"{r['expected']} | {r['cpu_us_per_delivered']} | {r['load']} |")
    for count in args.subscribers:
        theirs = [r["cpu_us_per_delivered"] for r in results
                  if r["label"] == RTPENGINE and r["subscribers"] == count]
        for label in ("rtpgate", "rtpgate (Python relay)"):
            ours = [r["cpu_us_per_delivered"] for r in results
                    if r["label"] == label and r["subscribers"] == count]
            if ours and theirs and all(ours) and all(theirs):
                ratio = sorted(ours)[len(ours) // 2] / sorted(theirs)[len(theirs) // 2]
                print(f"N={count}: {label} / rtpengine CPU per delivered packet = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
