#!/usr/bin/env python3
"""Transcoding CPU: PCMA <-> opus for rtpgate (rtpgate-transcode, FFmpeg through PyAV) and
rtpengine 10.5 (userspace, the same FFmpeg libraries) in the same run.

    .venv/bin/python bench/transcode.py [--calls 50] [--pps 50] [--seconds 10] [--rounds 1]
                                        [--no-rtpengine] [--port-base 22300]
                                        [--port-min 30000] [--port-max 39999]

Each server is started on its own loopback ports (as bench/relay.py starts them).  Each call is
a PCMA-only caller whose offer gets ``codec-transcode: opus`` and a callee that answers opus
only, so every packet in both directions is decoded, resampled and encoded.  One process sends
``--pps`` packets per second per direction per call (a 1 kHz tone, encoded once up front: PCMA
from the caller's sockets, opus from the callee's) and counts what arrives.  Reported per
server: packets sent and received, the relay's CPU over the send window (100 % = one core),
its CPU time per packet sent to it and per packet it delivered (transcoded), and the ratios
rtpgate / rtpengine.  Under load packets are lost (the relay, or this one-process generator,
falls behind): compare the CPU per delivered packet then, and say what the load was.  Where
packets went is counted from the sockets' drop counters (``/proc/net/udp``): dropped by the
relay's sockets (it fell behind), by the generator's (it fell behind reading), what the relay's
sockets still held unread a second after the window, and how late the generator's sending ever
was against its schedule.
Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import selectors
import socket
import statistics
import struct
import sys
import time
import urllib.request
import uuid

from servers import cpu_seconds, reference_rtpengine, rtpgate

LOCAL = "127.0.0.1"


def rtpengine_extra(base: int, port_min: int, port_max: int) -> str:
    """rtpengine's listeners at ``base`` + 23 (ng), 24 (TCP ng), 90 (CLI), 80 (HTTP), 43
    (HTTPS), media ports in the range given."""
    return (f"--delete-delay=0 --listen-ng={LOCAL}:{base + 23} "
            f"--listen-tcp-ng={LOCAL}:{base + 24} --listen-cli={LOCAL}:{base + 90} "
            f"--listen-http={LOCAL}:{base + 80} --listen-https={LOCAL}:{base + 43} "
            f"--port-min={port_min} --port-max={port_max} "
            # its transcoded output is sent by the media threads (the shared configuration
            # has none: it only forwards)
            "--media-num-threads=2")


def rtpgate_args(port_min: int, port_max: int) -> tuple[str, ...]:
    """rtpgate's listeners on ports the system picks (its ready file names them)."""
    return (f"--listen-http={LOCAL}:0", f"--listen-ng={LOCAL}:0",
            "--interface=127.0.0.1", f"--port-min={port_min}", f"--port-max={port_max}",
            "--delete-delay=0", "--log-level=5")


def udp_sockets() -> dict[int, tuple[int, int]]:
    """Per local port of the IPv4 UDP sockets: (datagrams dropped so far because the receive
    buffer was full, bytes queued unread now) (``/proc/net/udp``: the last column, and
    rx_queue)."""
    out: dict[int, tuple[int, int]] = {}
    with open("/proc/net/udp") as table:
        next(table)
        for line in table:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            queued = int(fields[4].split(":")[1], 16)
            drops, before = int(fields[-1]), out.get(port, (0, 0))
            out[port] = (before[0] + drops, before[1] + queued)
    return out


def _ng(port: int, command: dict, bencoded: bool = False) -> dict:
    body = json.dumps(command).encode()
    request = urllib.request.Request(f"http://{LOCAL}:{port}/ng-plain", data=body,
                                     headers={"Content-Type": "application/json"})
    if bencoded:  # rtpengine 10.5 has no /ng-plain: bencode over /ng
        request = urllib.request.Request(f"http://{LOCAL}:{port}/ng",
                                         data=uuid.uuid4().hex.encode() + b" " + bencode(command),
                                         headers={"Content-Type": "application/x-rtpengine-ng"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return bdecode_sdp(reply.read())
    with urllib.request.urlopen(request, timeout=10) as reply:
        result: dict = json.loads(reply.read())
        return result


def bencode(value: object) -> bytes:
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    data = str(value).encode()
    return b"%d:%s" % (len(data), data)


def bdecode_sdp(reply: bytes) -> dict:
    """Just the ``sdp`` and ``result`` strings of a bencoded ng reply (enough here)."""
    out = {}
    for key in (b"sdp", b"result"):
        found = re.search(rb"\d+:" + key + rb"(\d+):", reply)
        if found:
            start = found.end()
            out[key.decode()] = reply[start:start + int(found.group(1))].decode()
    return out


def tone(encoding: str, packets: int) -> list[bytes]:
    """RTP payloads of a 1 kHz tone (PyAV, the bench's own encoder)."""
    import av
    import numpy as np

    name, rate, per = ("pcm_alaw", 8000, 160) if encoding == "PCMA" else ("libopus", 48000, 960)
    ctx = av.CodecContext.create(name, "w")
    ctx.sample_rate, ctx.layout, ctx.format = rate, "mono", "s16"
    if name == "libopus":
        ctx.options = {"frame_duration": "20", "application": "voip"}
    ctx.open()
    out = []
    for i in range(packets):
        t = (np.arange(per) + i * per) / rate
        frame = av.AudioFrame.from_ndarray(
            (np.sin(2 * math.pi * 1000 * t) * 10000).astype(np.int16).reshape(1, -1),
            format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, i * per
        out.append(b"".join(bytes(p) for p in ctx.encode(frame)))
    return [p for p in out if p]


def sdp(port: int, pt: str, rtpmap: str) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {pt}\r\na=rtpmap:{pt} {rtpmap}\r\na=sendrecv\r\n")


def relay_port(reply: dict) -> int:
    found = re.search(r"^m=audio (\d+) ", reply["sdp"], re.M)
    assert found, reply
    return int(found.group(1))


def run(port: int, pid: int, label: str, args: argparse.Namespace) -> dict:
    """One server's window.  Packets lost are told apart: dropped by a socket of the relay
    (its receive buffer overflowed: the relay fell behind), by a socket of the generator (it
    fell behind reading), or neither (not sent on by the relay)."""
    pcma, opus = tone("PCMA", 50), tone("opus", 50)
    legs = []  # (socket, relay port, pt, payloads)
    calls = []
    bencoded = label != "rtpgate"

    def ng(port: int, command: dict) -> dict:
        return _ng(port, command, bencoded)
    for _ in range(args.calls):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind((LOCAL, 0))
        b.bind((LOCAL, 0))
        a.setblocking(False)
        b.setblocking(False)
        call_id = uuid.uuid4().hex
        offer = ng(port, {"command": "offer", "call-id": call_id, "from-tag": "a",
                          "codec": {"transcode": ["opus"]},
                          "sdp": sdp(a.getsockname()[1], "8", "PCMA/8000")})
        answer = ng(port, {"command": "answer", "call-id": call_id, "from-tag": "a",
                           "to-tag": "b", "sdp": sdp(b.getsockname()[1], "96", "opus/48000/2")})
        legs.append((a, relay_port(answer), 8, pcma))
        legs.append((b, relay_port(offer), 96, opus))
        calls.append(call_id)
    selector = selectors.DefaultSelector()
    for sock, *_ in legs:
        selector.register(sock, selectors.EVENT_READ)
    received = sent = 0
    by_leg = [0] * len(legs)
    index = {sock.fileno(): i for i, (sock, *_) in enumerate(legs)}
    interval = 1.0 / args.pps
    ticks = int(args.seconds * args.pps)
    ssrcs = [os.getpid() * 100 + i for i in range(len(legs))]
    relay_ports = {relay for _, relay, _, _ in legs}
    own_ports = {sock.getsockname()[1] for sock, *_ in legs}
    for sock, *_ in legs:  # as large a buffer as the system allows: the generator's bursts
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    drops_before = udp_sockets()
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    late = 0.0
    for tick in range(ticks):
        for i, (sock, relay, pt, payloads) in enumerate(legs):
            header = struct.pack("!BBHII", 0x80, pt, (1000 + tick) & 0xFFFF,
                                 (123456 + tick * (160 if pt == 8 else 960)) & 0xFFFFFFFF,
                                 ssrcs[i])
            try:
                sock.sendto(header + payloads[tick % len(payloads)], (LOCAL, relay))
                sent += 1
            except BlockingIOError:
                pass
        deadline = started + (tick + 1) * interval
        late = max(late, time.monotonic() - deadline)
        while (wait := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(wait):
                got = _drain(key.fileobj)  # type: ignore[arg-type]
                by_leg[index[key.fd]] += got
                received += got
    cpu_window = cpu_seconds(pid) - cpu_before
    elapsed = time.monotonic() - started
    end = time.monotonic() + 1.0
    while (wait := end - time.monotonic()) > 0:
        for key, _ in selector.select(wait):
            got = _drain(key.fileobj)  # type: ignore[arg-type]
            by_leg[index[key.fd]] += got
            received += got
    drops_after = udp_sockets()

    def dropped(ports: set[int]) -> int:
        return sum(drops_after.get(p, (0, 0))[0] - drops_before.get(p, (0, 0))[0]
                   for p in ports)
    for call_id in calls:
        ng(port, {"command": "delete", "call-id": call_id})
    for sock, *_ in legs:
        sock.close()
    return {"label": label, "calls": args.calls, "pps_per_dir": args.pps, "sent": sent,
            "received": received, "received_pcma_by_caller": sum(by_leg[0::2]),
            "received_opus_by_callee": sum(by_leg[1::2]),
            "dropped_by_relay_sockets": dropped(relay_ports),
            "dropped_by_generator_sockets": dropped(own_ports),
            # still unread by the relay a second after the window: it was that far behind
            "relay_unread_bytes_at_end": sum(drops_after.get(p, (0, 0))[1]
                                             for p in relay_ports),
            "generator_most_late_ms": round(late * 1000, 1), "seconds": round(elapsed, 2),
            "cpu_pct": round(100 * cpu_window / elapsed, 1),
            "cpu_us_per_packet": round(1e6 * cpu_window / max(sent, 1), 1),
            "cpu_us_per_relayed": round(1e6 * cpu_window / max(received, 1), 1)}


def _drain(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            sock.recv(4096)
        except BlockingIOError:
            return count
        count += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--pps", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-rtpengine", action="store_true")
    parser.add_argument("--port-base", type=int, default=22300,
                        help="rtpengine's listeners at BASE+23 (ng), +80 (HTTP), ... "
                             "(rtpgate's: ports the system picks)")
    parser.add_argument("--port-min", type=int, default=30000,
                        help="media ports: rtpengine's from here, rtpgate's from the middle of "
                             "the range")
    parser.add_argument("--port-max", type=int, default=39999)
    args = parser.parse_args()
    results = []
    for round_ in range(args.rounds):
        order = ["rtpgate"] if args.no_rtpengine else (
            ["rtpgate", "rtpengine"] if round_ % 2 == 0 else ["rtpengine", "rtpgate"])
        for which in order:
            load = open("/proc/loadavg").read().split()[0]  # noqa: SIM115
            middle = (args.port_min + args.port_max) // 2
            if which == "rtpgate":
                with rtpgate(rtpgate_args(middle + 1, args.port_max)) as gate:
                    result = run(gate.port("http"), gate.pid, "rtpgate", args)
            else:
                with reference_rtpengine(rtpengine_extra(args.port_base, args.port_min,
                                                         middle)) as pid:
                    result = run(args.port_base + 80, pid, "rtpengine 10.5 userspace", args)
            result["load_before"] = load
            print(json.dumps(result), flush=True)
            results.append(result)
    for key, what in (("cpu_us_per_packet", "sent"), ("cpu_us_per_relayed", "delivered")):
        per = {label: statistics.median(r[key] for r in results if r["label"] == label)
               for label in dict.fromkeys(r["label"] for r in results)}
        if len(per) == 2:
            ours = per["rtpgate"]
            theirs = next(v for k, v in per.items() if k != "rtpgate")
            print(f"CPU per packet {what} (median): rtpgate {ours:.1f} us, rtpengine "
                  f"{theirs:.1f} us; ratio rtpgate / rtpengine: {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
