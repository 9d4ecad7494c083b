"""The relay's families move with real packets: a call between two loopback sockets, RTP sent
both ways through rtpgate, and the deltas of ``/metrics``."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable

from calls import sdp
from metrics_helpers import ng, parse, promtool_check, scrape, value
from rtpgate.testing import ServerProcess

PACKETS = 20
RTP = bytes([0x80, 0x00]) + b"\x00\x01" + b"\x00" * 8 + b"\xff" * 160  # 172 bytes


def _media_port(reply: dict[str, object]) -> int:
    match = re.search(r"^m=audio (\d+) ", str(reply["sdp"]), re.M)
    assert match, reply
    return int(match.group(1))


def test_relayed_packets_are_counted(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server()
    alice, bob = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for sock in (alice, bob):
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
    call = uuid.uuid4().hex
    to_bob = ng(server, {"command": "offer", "call-id": call, "from-tag": "a",
                         "sdp": sdp("alice", alice.getsockname()[1])})
    to_alice = ng(server, {"command": "answer", "call-id": call, "from-tag": "a", "to-tag": "b",
                           "sdp": sdp("bob", bob.getsockname()[1])})
    before = parse(scrape(server)[1])
    for _ in range(PACKETS):
        alice.sendto(RTP, ("127.0.0.1", _media_port(to_alice)))
        bob.sendto(RTP, ("127.0.0.1", _media_port(to_bob)))
    for sock in (alice, bob):
        for _ in range(PACKETS):
            assert sock.recv(2048) == RTP
    time.sleep(0.1)
    after = parse(scrape(server)[1])

    def delta(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert delta("rtpengine_packets_total", type="userspace") == 2 * PACKETS
    assert delta("rtpengine_bytes_total", type="userspace") == 2 * PACKETS * len(RTP)
    assert delta("rtpengine_packet_errors_total", type="userspace") == 0
    assert delta("rtpengine_interface_packets", direction="ingress") == 2 * PACKETS
    assert delta("rtpengine_interface_packets", direction="egress") == 2 * PACKETS
    assert value(after, "rtpengine_mediastreams", type="userspace") >= 2
    ng(server, {"command": "delete", "call-id": call, "from-tag": "a"})
    ended = parse(scrape(server)[1])
    assert value(ended, "rtpengine_zero_packet_streams_total") == \
        value(before, "rtpengine_zero_packet_streams_total")
    assert promtool_check(scrape(server)[1]) == ""
