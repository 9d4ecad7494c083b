"""Publish/subscribe through a real rtpgate with this plugin: a publisher sends a PCMU tone; one
subscriber takes it as is, one over SDES-SRTP (libsrtp decrypts it here), one in PCMA (the
subscription offers PCMA for transcoding, the answer allows it), each with contiguous sequence
numbers and timestamps, the audio decoded (PyAV) and its 1 kHz tone found; the transcoded one
unsubscribes and gets nothing more while the others go on."""

from __future__ import annotations

import base64
import contextlib
import re
import selectors
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pylibsrtp
import pytest
from audio import decode, dominant, header, rtp_packets, sine
from rtpgate.testing import ServerProcess, ng_json

LOCAL = "127.0.0.1"
AES80 = "AES_CM_128_HMAC_SHA1_80"


def ng(server: ServerProcess, command: str, **keys: Any) -> dict[str, Any]:
    """:func:`rtpgate.testing.ng_json`, which must succeed."""
    decoded = ng_json(server, command, **keys)
    assert decoded["result"] == "ok", decoded
    return decoded


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0")


@pytest.fixture
def sockets() -> Iterator[Callable[[], socket.socket]]:
    made: list[socket.socket] = []

    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((LOCAL, 0))
        sock.settimeout(0.05)
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.close()


def port(sdp: str) -> int:
    found = re.search(r"^m=audio (\d+) ", sdp, re.M)
    assert found, sdp
    return int(found.group(1))


def answer_sdp(sock: socket.socket, formats: str, proto: str = "RTP/AVP",
               extra: str = "") -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nt=0 0\r\n"
            f"m=audio {sock.getsockname()[1]} {proto} {formats}\r\nc=IN IP4 {LOCAL}\r\n"
            f"{extra}a=recvonly\r\n")


def subscribe(server: ServerProcess, call_id: str, sock: socket.socket, formats: str,
              request: dict[str, Any], answer: dict[str, Any], proto: str = "RTP/AVP"
              ) -> tuple[str, pylibsrtp.Session | None]:
    offer = ng(server, "subscribe request", **{"call-id": call_id, "from-tag": "pub"},
               **request)
    crypto = [line for line in re.findall(r"^a=crypto:(.+?)\r$", offer["sdp"], re.M)
              if line.split()[1] == AES80]
    extra = f"a=crypto:{crypto[0]}\r\n" if proto != "RTP/AVP" else ""
    ng(server, "subscribe answer", **{"call-id": call_id, "to-tag": offer["to-tag"],
                                      "sdp": answer_sdp(sock, formats, proto, extra)}, **answer)
    session = None
    if extra:
        key = base64.b64decode(crypto[0].split()[2][len("inline:"):] + "==")
        session = pylibsrtp.Session(pylibsrtp.Policy(
            key=key, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
            ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))
    return offer["to-tag"], session


def collect(socks: dict[str, socket.socket], until: float,
            got: dict[str, list[bytes]] | None = None) -> dict[str, list[bytes]]:
    """What each socket receives until ``until`` (all of them read as packets arrive)."""
    got = {name: [] for name in socks} if got is None else got
    with selectors.DefaultSelector() as selector:
        for name, sock in socks.items():
            selector.register(sock, selectors.EVENT_READ, name)
        while (left := until - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                with contextlib.suppress(TimeoutError, BlockingIOError):
                    got[key.data].append(key.fileobj.recv(4096))  # type: ignore[union-attr]
    return got


def contiguous(packets: list[bytes], step: int = 160) -> None:
    heads = [header(p) for p in packets]
    seqs = [h[1] for h in heads]
    stamps = [h[2] for h in heads]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    assert stamps == [stamps[0] + i * step for i in range(len(stamps))], stamps
    assert len({h[3] for h in heads}) == 1


def test_plain_srtp_and_transcoded_subscribers(
        server: ServerProcess, sockets: Callable[[], socket.socket]) -> None:
    call_id = uuid.uuid4().hex
    publisher, plain, secure, pcma = sockets(), sockets(), sockets(), sockets()
    reply = ng(server, "publish", **{"call-id": call_id, "from-tag": "pub", "sdp": (
        f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nt=0 0\r\n"
        f"m=audio {publisher.getsockname()[1]} RTP/AVP 0\r\nc=IN IP4 {LOCAL}\r\n"
        "a=sendonly\r\n")})
    relay = (LOCAL, port(reply["sdp"]))
    subscribe(server, call_id, plain, "0", {}, {})
    _, srtp = subscribe(server, call_id, secure, "0", {"transport-protocol": "RTP/SAVP"}, {},
                        "RTP/SAVP")
    pcma_tag, _ = subscribe(server, call_id, pcma, "8",
                            {"codec": {"strip": ["PCMU"], "transcode": ["PCMA"]}},
                            {"flags": ["allow transcoding"]})
    assert srtp is not None

    packets = rtp_packets("PCMU", sine(8000, 1.0), 0)
    subscribers = {"plain": plain, "srtp": secure, "pcma": pcma}
    got: dict[str, list[bytes]] = {name: [] for name in subscribers}
    for data in packets:
        publisher.sendto(data, relay)
        collect(subscribers, time.monotonic() + 0.02, got)
    collect(subscribers, time.monotonic() + 1.0, got)
    got["srtp"] = [srtp.unprotect(p) for p in got["srtp"]]

    assert got["plain"] == packets  # a plain subscriber gets the publisher's packets
    assert got["srtp"] == packets
    assert len(got["pcma"]) >= len(packets) - 2
    assert {header(p)[0] for p in got["pcma"]} == {8}
    for name in got:
        contiguous(got[name])
    for name, encoding in (("plain", "PCMU"), ("srtp", "PCMU"), ("pcma", "PCMA")):
        audio = decode(encoding, got[name])
        assert abs(dominant(audio, 8000) - 1000) < 20, name
        assert float(np.max(np.abs(audio))) > 5000, name

    ng(server, "unsubscribe", **{"call-id": call_id, "to-tag": pcma_tag})
    _, last_seq, last_ts, _ = header(packets[-1])
    more = [data[:2] + struct.pack("!HI", (last_seq + i) & 0xFFFF, last_ts + i * 160)
            + data[8:] for i, data in enumerate(packets[:10], 1)]
    for data in more:
        publisher.sendto(data, relay)
    after = collect(subscribers, time.monotonic() + 0.5)
    assert after["plain"] == more
    assert after["pcma"] == []
    assert [srtp.unprotect(p) for p in after["srtp"]] == more
    ng(server, "delete", **{"call-id": call_id})


def test_transcoded_subscriber_keeps_its_own_stream(
        server: ServerProcess, sockets: Callable[[], socket.socket]) -> None:
    """A transcoded subscriber gets rtpgate's own stream: it joins late, the publisher changes
    its SSRC and sequence numbers, and what the subscriber gets stays one SSRC with contiguous
    sequence numbers, its tone intact (rtpengine 10.5 makes a new SSRC per source SSRC there
    and keeps the source's sequence numbers; a plain subscriber gets the source's as they
    are)."""
    call_id = uuid.uuid4().hex
    publisher, pcma = sockets(), sockets()
    reply = ng(server, "publish", **{"call-id": call_id, "from-tag": "pub", "sdp": (
        f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nt=0 0\r\n"
        f"m=audio {publisher.getsockname()[1]} RTP/AVP 0\r\nc=IN IP4 {LOCAL}\r\n"
        "a=sendonly\r\n")})
    relay = (LOCAL, port(reply["sdp"]))
    packets = rtp_packets("PCMU", sine(8000, 1.0), 0)
    for data in packets[:10]:  # before anyone subscribed
        publisher.sendto(data, relay)
    subscribe(server, call_id, pcma, "8", {"codec": {"strip": ["PCMU"], "transcode": ["PCMA"]}},
              {"flags": ["allow transcoding"]})
    # then the source goes on, and restarts with another SSRC and sequence numbers
    second = [data[:2] + struct.pack("!HI", 40000 + i, 123456 + i * 160)
              + struct.pack("!I", 0xC0FFEE) + data[12:] for i, data in enumerate(packets[25:])]
    got: dict[str, list[bytes]] = {"pcma": []}
    for data in packets[10:25] + second:
        publisher.sendto(data, relay)
        collect({"pcma": pcma}, time.monotonic() + 0.02, got)
    collect({"pcma": pcma}, time.monotonic() + 1.0, got)
    heads = [header(p) for p in got["pcma"]]
    assert len(heads) >= len(packets) - 10 - 2, len(heads)
    assert len({h[3] for h in heads}) == 1, {h[3] for h in heads}
    seqs = [h[1] for h in heads]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))], seqs
    audio = decode("PCMA", got["pcma"])
    assert abs(dominant(audio, 8000) - 1000) < 20
    ng(server, "delete", **{"call-id": call_id})
