#!/usr/bin/env python3
"""DTLS-SRTP <-> RTP relay: DTLS handshakes per second and relay CPU per packet at a fixed rate,
rtpgate and rtpengine 10.5 (userspace) in the same run.

    .venv/bin/python bench/dtls_relay.py [--calls 100] [--pps 50] [--seconds 10] [--no-rtpengine]
                                         [--rounds N] [--settle 3.5] [--python-relay]

For each server, ``--calls`` calls are set up over ng/UDP: a plain RTP phone offers (PCMU, one
port), the server offers ``UDP/TLS/RTP/SAVPF`` (``ICE=remove``, ``SDES-off``, rtcp-mux) to the
"browser", which answers ``a=setup:active`` with its own certificate's fingerprint.  Then every
browser starts its DTLS handshake at once (rtpgate's own :class:`~rtpgate.media.dtls.DtlsSession`
as the client, offering only ``SRTP_AEAD_AES_128_GCM``): the handshakes per second are the calls
divided by the time until the last one completed, with the server's CPU time for them.  Then
each call sends ``--pps`` packets per second each way (SRTP from the browser, plain RTP from the
phone; 100 calls x 50 pps x 2 = 10,000 pps relayed) for ``--seconds``: the server's CPU time
(``/proc/PID/stat``) divided by the packets that arrived is its CPU per packet.  The generator
shares the machine's cores with the server.  Loopback only; every step is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
from typing import Any

import pylibsrtp
from rtpgate.media.dtls import PROFILES, DtlsSession, SrtpKeys, make_certificate
from servers import (
    SHARED,
    alternating_rounds,
    block_rtpengine_extra,
    block_rtpengine_ng,
    block_rtpgate_args,
    cpu_seconds,
    reference_rtpengine,
    rtpengine_available,
    rtpgate,
)

sys.path.insert(0, str(SHARED / "conformance"))
from sdpconf import NgClient

GCM = tuple(p for p in PROFILES if p.suite == "AEAD_AES_128_GCM")
LOCAL = "127.0.0.1"
RTPENGINE_NG = 58223
RTPENGINE_EXTRA = ("--delete-delay=0 --listen-ng=127.0.0.1:58223 --listen-tcp-ng=127.0.0.1:58224 "
                   "--listen-cli=127.0.0.1:58900 --listen-http=127.0.0.1:58080 "
                   "--listen-https=127.0.0.1:58443 --port-min=41000 --port-max=41999")
RTPGATE_ARGS = ("--listen-ng=127.0.0.1:0", "--listen-http=127.0.0.1:0",
                "--interface=127.0.0.1", "--port-min=42000", "--port-max=42999",
                "--delete-delay=0", "--log-level=5")


def plain_sdp(port: int) -> str:
    return (f"v=0\r\no=phone 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\na=sendrecv\r\n")


def browser_sdp(port: int, fingerprint: str) -> str:
    return (f"v=0\r\no=- 1 2 IN IP4 {LOCAL}\r\ns=-\r\nt=0 0\r\n"
            f"m=audio {port} UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 {LOCAL}\r\n"
            f"a=fingerprint:sha-256 {fingerprint}\r\na=setup:active\r\na=rtcp-mux\r\n"
            "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def media_port(sdp: str) -> int:
    for line in sdp.splitlines():
        if line.startswith("m=audio "):
            return int(line.split()[1])
    raise ValueError(sdp)


class Endpoint:
    """A UDP socket: DTLS handshakes go through :meth:`send_to` (what a relay stream offers a
    DTLS session), datagrams that arrive are fed to the session or counted."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL, 0))
        self.sock.setblocking(False)
        self.session: DtlsSession | None = None
        self.received = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send_to(self, data: bytes, address: tuple[str, int]) -> bool:
        self.sock.sendto(data, address)
        return True

    def drain(self) -> None:
        while True:
            try:
                data, source = self.sock.recvfrom(4096)
            except BlockingIOError:
                return
            if 20 <= data[0] <= 63 and self.session is not None:
                self.session.datagram(self, data, source)  # type: ignore[arg-type]
            else:
                self.received += 1


class Call:
    def __init__(self, n: int) -> None:
        self.id = f"dtlsbench-{os.getpid()}-{n}"
        self.phone, self.browser = Endpoint(), Endpoint()
        self.to_phone = self.to_browser = (LOCAL, 0)
        self.keys: SrtpKeys | None = None
        self.server_fingerprint: tuple[str, str] | None = None

    def close(self) -> None:
        self.phone.sock.close()
        self.browser.sock.close()


def set_up(ng: NgClient, calls: list[Call], fingerprint: str) -> None:
    for call in calls:
        offer = ng.request({"command": "offer", "call-id": call.id, "from-tag": "phone",
                            "sdp": plain_sdp(call.phone.port), "ICE": "remove",
                            "transport-protocol": "UDP/TLS/RTP/SAVPF", "SDES": ["off"],
                            "rtcp-mux": ["require"]})
        assert offer.get("result") == "ok", offer
        call.to_browser = (LOCAL, media_port(offer["sdp"]))
        for line in offer["sdp"].splitlines():
            if line.startswith("a=fingerprint:"):
                name, value = line[len("a=fingerprint:"):].split()
                call.server_fingerprint = (name, value)
        answer = ng.request({"command": "answer", "call-id": call.id, "from-tag": "phone",
                             "to-tag": "browser",
                             "sdp": browser_sdp(call.browser.port, fingerprint),
                             "ICE": "remove"})
        assert answer.get("result") == "ok", answer
        call.to_phone = (LOCAL, media_port(answer["sdp"]))


async def handshakes(calls: list[Call], cert: Any, timeout: float = 60) -> float:
    """Start every browser's handshake at once; seconds until the last completed."""
    started = time.monotonic()
    for call in calls:
        def keys(k: SrtpKeys, call: Call = call) -> None:
            call.keys = k
        call.browser.session = DtlsSession(cert, True, call.server_fingerprint, on_keys=keys,
                                           profiles=GCM)
        call.browser.session.start(call.browser, call.to_browser)  # type: ignore[arg-type]
    while any(c.keys is None and c.browser.session is not None
              and c.browser.session.state != "failed" for c in calls):
        if time.monotonic() - started > timeout:
            raise SystemExit("DTLS handshakes did not complete")
        for call in calls:
            call.browser.drain()
        await asyncio.sleep(0.001)
    failed = [c.id for c in calls if c.keys is None]
    if failed:
        raise SystemExit(f"DTLS handshakes failed: {failed[:5]}")
    return time.monotonic() - started


def srtp_sender(keys: SrtpKeys) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=keys.local_key + keys.local_salt,
                              srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
                              ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    return pylibsrtp.Session(policy)


async def traffic(calls: list[Call], pps: int, seconds: float) -> tuple[int, int]:
    """Send for ``seconds``; (sent, received) packets."""
    senders = [srtp_sender(c.keys) for c in calls if c.keys is not None]
    assert len(senders) == len(calls), "a call has no SRTP keys"
    interval = 1.0 / pps
    sent = seq = 0
    start = time.monotonic()
    next_tick = start
    while time.monotonic() - start < seconds:
        seq += 1
        header = (bytes([0x80, 0]) + (seq & 0xFFFF).to_bytes(2, "big")
                  + (seq * 160 & 0xFFFFFFFF).to_bytes(4, "big"))
        for n, (call, srtp) in enumerate(zip(calls, senders, strict=True)):
            packet = header + (n + 1).to_bytes(4, "big") + b"\xff" * 160
            call.browser.sock.sendto(srtp.protect(packet), call.to_browser)
            call.phone.sock.sendto(packet, call.to_phone)
            sent += 2
        next_tick += interval
        for call in calls:
            call.phone.drain()
            call.browser.drain()
        delay = next_tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    # what the relay still has queued (a starved relay is late, not lossy): until 1 s passes
    # without a packet, at most 10 s
    quiet_since, deadline = time.monotonic(), time.monotonic() + 10
    total = -1
    while time.monotonic() - quiet_since < 1.0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        for call in calls:
            call.phone.drain()
            call.browser.drain()
        now_total = sum(c.phone.received + c.browser.received for c in calls)
        if now_total != total:
            total, quiet_since = now_total, time.monotonic()
    to_phone = sum(c.phone.received for c in calls)
    to_browser = sum(c.browser.received for c in calls)
    print(f"  received: {to_phone} plain RTP at the phones, {to_browser} SRTP at the browsers, "
          f"of {sent // 2} sent each way", flush=True)
    return sent, to_phone + to_browser


async def measure(label: str, pid: int, ng_port: int, args: argparse.Namespace) -> dict:
    ng = NgClient(f"udp://127.0.0.1:{ng_port}")
    cert = make_certificate()
    fingerprint = cert.fingerprint("sha-256")[1]
    calls = [Call(n) for n in range(args.calls)]
    try:
        set_up(ng, calls, fingerprint)
        cpu0 = cpu_seconds(pid)
        elapsed = await handshakes(calls, cert)
        cpu_handshakes = cpu_seconds(pid) - cpu0
        for call in calls:
            call.phone.received = call.browser.received = 0
        await asyncio.sleep(args.settle)
        cpu1 = cpu_seconds(pid)
        sent, received = await traffic(calls, args.pps, args.seconds)
        cpu = cpu_seconds(pid) - cpu1
        return {"label": label, "calls": args.calls, "handshake_seconds": elapsed,
                "handshakes_per_s": args.calls / elapsed,
                "handshake_cpu_ms_each": 1000 * cpu_handshakes / args.calls,
                "sent": sent, "received": received,
                "loss_pct": 100 * (sent - received) / sent if sent else 0.0,
                "relayed_pps": received / args.seconds,
                "cpu_pct": 100 * cpu / args.seconds,
                "cpu_us_per_packet": 1e6 * cpu / received if received else float("nan")}
    finally:
        for call in calls:
            with contextlib.suppress(Exception):  # cleanup of a server that may be gone
                ng.request({"command": "delete", "call-id": call.id})
            call.close()


def report(result: dict) -> str:
    return (f"{result['label']:22} {result['handshakes_per_s']:7.1f} handshakes/s "
            f"({result['calls']} at once, {result['handshake_cpu_ms_each']:.2f} ms server CPU "
            f"each); {result['relayed_pps']:7.0f} pps relayed (loss {result['loss_pct']:.2f} %), "
            f"CPU {result['cpu_pct']:.1f} %, {result['cpu_us_per_packet']:.1f} us per packet")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--pps", type=int, default=50, help="per call and direction")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds; who goes first alternates, ratios are of the medians")
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
    results: list[dict] = []

    def gate(python_relay: bool) -> None:
        label = "rtpgate (Python relay)" if python_relay else "rtpgate"
        with rtpgate(gate_args, python_relay=python_relay) as server:
            results.append(asyncio.run(measure(label, server.pid, server.port("ng-udp"), args)))

    def engine() -> None:
        with reference_rtpengine(engine_extra) as pid:
            results.append(asyncio.run(measure("rtpengine 10.5", pid, engine_ng, args)))

    print(f"# DTLS-SRTP (AEAD_AES_128_GCM) <-> RTP, {args.calls} calls x {args.pps} pps x 2, "
          f"{os.cpu_count()} cores shared with the generator")
    alternating_rounds(args.rounds, gate, engine, args.python_relay,
                       not args.no_rtpengine and rtpengine_available(),
                       lambda load: print(f"{report(results[-1])} (1-min load before: {load})",
                                          flush=True))

    def median(label: str, key: str) -> float | None:
        values = sorted(r[key] for r in results if r["label"] == label)
        return values[len(values) // 2] if values else None

    for label in ("rtpgate", "rtpgate (Python relay)"):
        ours, theirs = median(label, "cpu_us_per_packet"), median("rtpengine 10.5",
                                                                  "cpu_us_per_packet")
        if ours is not None and theirs:
            print(f"CPU per packet {label} / rtpengine (medians): {ours / theirs:.2f}; "
                  f"handshakes/s: {median(label, 'handshakes_per_s') or 0:.1f} against "
                  f"{median('rtpengine 10.5', 'handshakes_per_s') or 0:.1f}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
