"""``--dtmf-log-dest``: the RFC 4733 events a party sends reach the configured UDP address as
rtpengine's JSON, once per event (end packets are retransmitted), and are relayed unchanged."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable, Iterator

import pytest
from media_calls import LOCAL, Call
from media_packets import RTP
from rtpgate.testing import ServerProcess


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCAL, 0))
    sock.settimeout(3.0)
    yield sock
    sock.close()


def event(seq: int, timestamp: int, digit: int, end: bool, duration: int) -> bytes:
    return RTP.pack(0x80, 101, seq, timestamp, 0xA11CE) + struct.pack(
        "!BBH", digit, (0x80 if end else 0) | 10, duration)


def test_dtmf_events_are_logged_as_rtpengine_does(
        rtpgate_server: Callable[..., ServerProcess], listener: socket.socket) -> None:
    server = rtpgate_server("--delete-delay=0",
                            f"--dtmf-log-dest={LOCAL}:{listener.getsockname()[1]}")
    call = Call(server)
    try:
        call.connect(label="caller")
        packets = [event(1, 1000, 5, False, 160), event(2, 1000, 5, False, 320),
                   *(event(n, 1000, 5, True, 800) for n in (3, 4, 5)),
                   event(6, 2000, 11, True, 400)]
        for data in packets:
            call.alice.send(data)
            call.bob.rtp.settimeout(2.0)
            assert call.bob.rtp.recv(4096) == data  # relayed unchanged
        reports = [json.loads(listener.recv(4096)) for _ in range(2)]
        for report in reports:
            assert report.pop("timestamp") > 0
        assert reports == [
            {"callid": call.call_id, "source_tag": "alice", "source_label": "caller",
             "tags": ["alice", "bob"], "type": "DTMF", "source_ip": LOCAL, "event": 5,
             "duration": 100, "volume": 10},
            {"callid": call.call_id, "source_tag": "alice", "source_label": "caller",
             "tags": ["alice", "bob"], "type": "DTMF", "source_ip": LOCAL, "event": 11,
             "duration": 50, "volume": 10}]
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):  # the retransmitted end packets: no more reports
            listener.recv(4096)
    finally:
        call.close()
