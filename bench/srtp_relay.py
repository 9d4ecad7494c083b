#!/usr/bin/env python3
"""SRTP <-> RTP relay CPU: rtpgate and rtpengine 10.5 (userspace) in the same run.

    .venv/bin/python bench/srtp_relay.py [--calls 100] [--pps 50] [--seconds 10]
                                         [--suite AES_CM_128_HMAC_SHA1_80] [--no-rtpengine]
                                         [--rounds N] [--settle 3.5] [--python-relay]

Each server is started on its own loopback ports, then ``--calls`` calls are made over ng/UDP:
the caller offers ``RTP/SAVP`` with an SDES key of ``--suite``, ``transport-protocol=RTP/AVP``
turns it into plain RTP towards the callee, who answers plain; rtpgate (or rtpengine) answers
the caller with its own key.  A sender process then sends, every 20 ms for ``--seconds``, one
SRTP packet (made beforehand with libsrtp, so the generator is cheap) from each caller and one
plain RTP packet from each callee: ``calls * pps * 2`` packets per second through the relay,
half of them decrypted, half encrypted.  A receiver process counts what arrives, checks that
the callee gets the caller's plain payload, and authenticates and decrypts every SRTP packet
the caller gets with the key from the answer (libsrtp).  The relay's CPU time over the window
(``/proc/PID/stat``) divided by the packets it relayed is the figure; the summary gives both
servers and the ratio rtpgate / rtpengine.  Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing
import os
import re
import secrets
import selectors
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any

import bencode
import pylibsrtp
from servers import (
    alternating_rounds,
    block_rtpengine_extra,
    block_rtpengine_ng,
    block_rtpgate_args,
    cpu_seconds,
    reference_rtpengine,
    rtpengine_available,
    rtpgate,
)

RTPENGINE_NG = 48223
RTPENGINE_EXTRA = ("--delete-delay=0 --listen-ng=127.0.0.1:48223 --listen-tcp-ng=127.0.0.1:48224 "
                   "--listen-cli=127.0.0.1:48900 --listen-http=127.0.0.1:48080 "
                   "--listen-https=127.0.0.1:48443 --port-min=40000 --port-max=40999 "
                   "--log-level=5")
RTPGATE_ARGS = ("--listen-ng=127.0.0.1:48323", "--listen-http=127.0.0.1:48380",
                "--interface=127.0.0.1", "--port-min=41000", "--port-max=41999",
                "--delete-delay=0", "--log-level=5")
PROFILES = {"AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
            "AEAD_AES_128_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
            "AEAD_AES_256_GCM": pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM}
KEY_LEN = {"AES_CM_128_HMAC_SHA1_80": 30, "AES_CM_128_HMAC_SHA1_32": 30,
           "AEAD_AES_128_GCM": 28, "AEAD_AES_256_GCM": 44}
LOCAL = "127.0.0.1"
PAYLOAD = 160


def ng(port: int, message: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        cookie = secrets.token_hex(6).encode()
        sock.sendto(cookie + b" " + bencode.encode(message), (LOCAL, port))
        data = sock.recv(65536)
    reply: dict[str, Any] = bencode.decode(data.split(b" ", 1)[1])
    if reply.get("result") != "ok":
        raise RuntimeError(f"ng {message['command']}: {reply}")
    return reply


def pair() -> tuple[socket.socket, socket.socket]:
    """An RTP socket on an even port and its RTCP socket on the next one."""
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


def sdp(port: int, proto: str, extra: str = "") -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}a=sendrecv\r\n")


def session(suite: str, key: bytes, inbound: bool) -> pylibsrtp.Session:
    return pylibsrtp.Session(pylibsrtp.Policy(
        key=key, srtp_profile=PROFILES[suite],
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound
        else pylibsrtp.Policy.SSRC_ANY_OUTBOUND))


def rtp(seq: int, ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) \
        + struct.pack("!I", seq) + b"\xd5" * (PAYLOAD - 4)


class Call:
    def __init__(self, index: int, ng_port: int, suite: str) -> None:
        self.alice, self.alice_rtcp = pair()
        self.bob, self.bob_rtcp = pair()
        self.ssrc_a, self.ssrc_b = 0x10000 + index, 0x20000 + index
        self.key_a = os.urandom(KEY_LEN[suite])
        call_id = f"srtpbench-{secrets.token_hex(4)}-{index}"
        inline = base64.b64encode(self.key_a).decode().rstrip("=")
        offer = ng(ng_port, {"command": "offer", "call-id": call_id, "from-tag": "a",
                             "transport-protocol": "RTP/AVP",
                             "sdp": sdp(self.alice.getsockname()[1], "RTP/SAVP",
                                        f"a=crypto:1 {suite} inline:{inline}\r\n")})
        answer = ng(ng_port, {"command": "answer", "call-id": call_id, "from-tag": "a",
                              "to-tag": "b", "sdp": sdp(self.bob.getsockname()[1], "RTP/AVP")})
        self.to_bob = (LOCAL, int(re.search(r"m=audio (\d+)", offer["sdp"]).group(1)))
        self.to_alice = (LOCAL, int(re.search(r"m=audio (\d+)", answer["sdp"]).group(1)))
        found = re.search(r"a=crypto:\d+ (\S+) inline:([A-Za-z0-9+/=]+)", answer["sdp"])
        if found is None or found.group(1) != suite:
            raise RuntimeError(f"no {suite} key in the answer:\n{answer['sdp']}")
        text = found.group(2)
        self.key_relay = base64.b64decode(text + "=" * (-len(text) % 4))
        self.call_id = call_id

    def close(self, ng_port: int) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            ng(ng_port, {"command": "delete", "call-id": self.call_id})
        for sock in (self.alice, self.alice_rtcp, self.bob, self.bob_rtcp):
            sock.close()


def sender(calls: list[Call], suite: str, pps: float, seconds: float,
           ready: Callable[[], None]) -> None:
    ticks = int(seconds * pps)
    srtp = [[session(suite, c.key_a, False).protect(rtp(seq, c.ssrc_a)) for seq in range(ticks)]
            for c in calls]
    plain = [[rtp(seq, c.ssrc_b) for seq in range(ticks)] for c in calls]
    ready()
    start = time.monotonic()
    for tick in range(ticks):
        for n, c in enumerate(calls):
            c.alice.sendto(srtp[n][tick], c.to_alice)
            c.bob.sendto(plain[n][tick], c.to_bob)
        delay = start + (tick + 1) / pps - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def receiver(calls: list[Call], suite: str, until: float, out: Any) -> None:
    sel = selectors.DefaultSelector()
    rx = {}
    for c in calls:
        sel.register(c.alice, selectors.EVENT_READ, ("alice", c))
        sel.register(c.bob, selectors.EVENT_READ, ("bob", c))
        rx[c.call_id] = session(suite, c.key_relay, True)
    got = {"alice": 0, "bob": 0, "bad": 0}
    while time.monotonic() < until:
        for key, _ in sel.select(0.2):
            who, c = key.data
            sock = key.fileobj
            while True:
                try:
                    data = sock.recv(2048)  # type: ignore[union-attr]
                except BlockingIOError:
                    break
                if who == "bob":
                    ok = len(data) == 12 + PAYLOAD and data[8:12] == struct.pack(">I", c.ssrc_a)
                else:
                    try:
                        plain = rx[c.call_id].unprotect(data)
                        ok = len(plain) == 12 + PAYLOAD and plain[8:12] == struct.pack(
                            ">I", c.ssrc_b)
                    except pylibsrtp.Error:
                        ok = False
                got[who] += 1
                got["bad"] += not ok
    out.put(got)


def run(label: str, ng_port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    calls = [Call(n, ng_port, args.suite) for n in range(args.calls)]
    for c in calls:
        for sock in (c.alice, c.bob):
            sock.setblocking(False)
    time.sleep(args.settle)
    try:
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        results = ctx.Queue()
        send = ctx.Process(target=sender, args=(calls, args.suite, args.pps, args.seconds,
                                                ready.set))
        send.start()
        ready.wait(120)
        until = time.monotonic() + args.seconds + 1.5
        recv = ctx.Process(target=receiver, args=(calls, args.suite, until, results))
        recv.start()
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        send.join(args.seconds + 60)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        got = results.get(timeout=60)
        recv.join(10)
    finally:
        for c in calls:
            c.close(ng_port)
    sent = 2 * args.calls * int(args.seconds * args.pps)
    relayed = got["alice"] + got["bob"]
    cpu = cpu1 - cpu0
    return {"label": label, "suite": args.suite, "calls": args.calls, "offered_pps":
            int(2 * args.calls * args.pps), "sent": sent, "relayed": relayed,
            "loss_pct": round(100 * (sent - relayed) / sent, 3), "bad": got["bad"],
            "relay_cpu_pct": round(100 * cpu / (t1 - t0), 1),
            "ms_cpu_per_1000": round(1e6 * cpu / max(relayed, 1), 2)}


def summary(r: dict[str, Any]) -> str:
    return (f"{r['label']:26} {r['relayed']} of {r['sent']} packets relayed (loss "
            f"{r['loss_pct']} %, {r['bad']} bad), relay CPU {r['relay_cpu_pct']} %, "
            f"{r['ms_cpu_per_1000']:.2f} ms CPU per 1,000 packets")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--pps", type=float, default=50, help="per call and direction")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--suite", default="AES_CM_128_HMAC_SHA1_80", choices=sorted(PROFILES))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds between the last answer and the first packet: 3.5 lets "
                             "the servers' 3 s learning window pass, so the window measured "
                             "is the steady state (each party confirmed by its first packet)")
    parser.add_argument("--python-relay", action="store_true",
                        help="also measure rtpgate with its pure-Python read loop "
                             "(RTPGATE_NATIVE_RELAY=0) in each round")
    parser.add_argument("--block", type=int, default=None,
                        help="put both servers on helper block K's ports (servers.py), not on "
                             "the bench's own fixed ones")
    args = parser.parse_args()
    gate_args, engine_extra, engine_ng = RTPGATE_ARGS, RTPENGINE_EXTRA, RTPENGINE_NG
    if args.block is not None:
        gate_args = block_rtpgate_args(args.block)
        engine_extra = block_rtpengine_extra(args.block)
        engine_ng = block_rtpengine_ng(args.block)
    results = []

    def gate(python_relay: bool) -> None:
        label = "rtpgate (Python relay)" if python_relay else "rtpgate"
        with rtpgate(gate_args, python_relay=python_relay) as server:
            results.append(run(label, server.port("ng-udp"), server.pid, args))

    def engine() -> None:
        with reference_rtpengine(engine_extra) as pid:
            results.append(run("rtpengine 10.5 userspace", engine_ng, pid, args))

    def done(load: str) -> None:
        results[-1]["load_before"] = load
        print(f"{summary(results[-1])} (1-min load before: {load})", flush=True)

    alternating_rounds(args.rounds, gate, engine, args.python_relay,
                       not args.no_rtpengine and rtpengine_available(), done)

    def median(label: str) -> float | None:
        values = sorted(r["ms_cpu_per_1000"] for r in results if r["label"] == label)
        return values[len(values) // 2] if values else None

    ref = median("rtpengine 10.5 userspace")
    for label in ("rtpgate", "rtpgate (Python relay)"):
        ours = median(label)
        if ours is not None and ref:
            print(f"CPU per packet, {label} / rtpengine (medians): {ours / ref:.2f}")
    print(json.dumps(results))
    return 0 if all(r["bad"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
