"""Test helpers: a call through a real rtpgate between two UDP sockets, G.711 audio made and
decoded with PyAV, and pcap files read with Debian's tshark."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import struct
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from rtpgate.testing import ServerProcess, ng_json

LOCAL = "127.0.0.1"


#: One ng request as JSON over POST /ng-plain (keys as rtpengine spells them).
ng = ng_json


def udp() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCAL, 0))
    sock.settimeout(2.0)
    return sock


def sdp(port: int) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def relay_port(reply: dict[str, Any]) -> int:
    found = re.search(r"^m=audio (\d+) ", reply["sdp"], re.M)
    assert found, reply
    return int(found.group(1))


@dataclass
class Call:
    """A PCMU call: ``a`` (from-tag ``a``) sends to ``to_a`` (the port rtpgate gave it),
    ``b`` to ``to_b``."""

    server: ServerProcess
    call_id: str
    a: socket.socket
    b: socket.socket
    to_a: int
    to_b: int

    def ng(self, command: str, **keys: Any) -> dict[str, Any]:
        return ng(self.server, command, **{"call-id": self.call_id, **keys})

    def send(self, sender: str, packet: bytes) -> bytes:
        """Send from ``a`` or ``b`` and return what the other party receives."""
        src, dst, port = ((self.a, self.b, self.to_a) if sender == "a"
                          else (self.b, self.a, self.to_b))
        src.sendto(packet, (LOCAL, port))
        return dst.recv(4096)


def make_call(server: ServerProcess, **offer_keys: Any) -> Call:
    a, b = udp(), udp()
    call_id = uuid.uuid4().hex
    offer = ng(server, "offer", **{"call-id": call_id, "from-tag": "a",
                                   "sdp": sdp(a.getsockname()[1]), **offer_keys})
    answer = ng(server, "answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b",
                                     "sdp": sdp(b.getsockname()[1])})
    # a sends to the port in the answer it got, b to the one in the offer
    return Call(server, call_id, a, b, relay_port(answer), relay_port(offer))


def tone(seconds: float, freq: float, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 32767 * 0.3).astype(np.int16)


def pcmu(samples: np.ndarray) -> list[bytes]:
    """``samples`` as 20 ms PCMU payloads (PyAV's G.711 encoder)."""
    codec = av.CodecContext.create("pcm_mulaw", "w")
    codec.sample_rate = 8000
    codec.format = "s16"
    codec.layout = "mono"
    codec.open()
    out = []
    for i in range(len(samples) // 160):
        frame = av.AudioFrame.from_ndarray(samples[i * 160:(i + 1) * 160].reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate = 8000
        out.append(b"".join(bytes(p) for p in codec.encode(frame)))
    return out


def decode_pcmu(payloads: list[bytes]) -> np.ndarray:
    codec = av.CodecContext.create("pcm_mulaw", "r")
    codec.sample_rate = 8000
    codec.layout = "mono"
    chunks = [frame.to_ndarray().reshape(-1) for p in payloads
              for frame in codec.decode(av.Packet(p))]
    return np.concatenate(chunks).astype(np.int16)


def rtp(seq: int, payload: bytes, ssrc: int, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, seq * 160, ssrc) + payload


def dominant(samples: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def tshark() -> str:
    found = shutil.which("tshark")
    if found is None:
        pytest.skip("tshark (Debian package tshark) is not installed")
    return found


@dataclass
class Captured:
    src: tuple[str, int]
    dst: tuple[str, int]
    data: bytes


def read_pcap(path: Path) -> list[Captured]:
    """Every packet of a pcap, in file order, as tshark reads it (it fails on a broken
    file)."""
    out = subprocess.run(
        [tshark(), "-r", str(path), "-T", "fields", "-E", "separator=|",
         "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport",
         "-e", "udp.payload"],
        capture_output=True, text=True, timeout=60, check=True)
    packets = []
    for line in out.stdout.splitlines():
        src, sport, dst, dport, payload = line.split("|")
        packets.append(Captured((src, int(sport)), (dst, int(dport)),
                                bytes.fromhex(payload.replace(":", ""))))
    return packets


def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def drain(sock: socket.socket) -> None:
    sock.settimeout(0.05)
    with contextlib.suppress(TimeoutError):
        while True:
            sock.recv(4096)
    sock.settimeout(2.0)
