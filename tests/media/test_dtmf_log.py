"""``--dtmf-log-dest``: the RFC 4733 events a party sends reach the configured UDP address as
rtpengine's JSON, once per event (end packets are retransmitted), and are relayed unchanged.
``--dtmf-log-ng-tcp``: the same events reach every client connected to ``--listen-tcp-ng`` as
rtpengine's ``onDTMF`` ng notifications."""

from __future__ import annotations

import json
import re
import socket
import struct
from collections.abc import Callable, Iterator

import bencodepy
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
        raw = [listener.recv(4096) for _ in range(2)]
        reports = [json.loads(data) for data in raw]
        # rtpengine 10.5's key order (and no source_label, though the caller has a label)
        assert all(list(report) == ["callid", "source_tag", "tags", "type", "timestamp",
                                    "source_ip", "event", "duration", "volume"]
                   for report in reports)
        for report in reports:
            assert report.pop("timestamp") > 0
        assert reports == [
            {"callid": call.call_id, "source_tag": "alice",
             "tags": ["alice", "bob"], "type": "DTMF", "source_ip": LOCAL, "event": 5,
             "duration": 100, "volume": 10},
            {"callid": call.call_id, "source_tag": "alice",
             "tags": ["alice", "bob"], "type": "DTMF", "source_ip": LOCAL, "event": 11,
             "duration": 50, "volume": 10}]
        listener.settimeout(0.3)
        with pytest.raises(TimeoutError):  # the retransmitted end packets: no more reports
            listener.recv(4096)
    finally:
        call.close()


def _text(value: object) -> object:
    """bencodepy's bytes as text, recursively (an independent bencode decoder)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_text(v) for v in value]
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    return value


def _notifications(sock: socket.socket, count: int) -> list[tuple[bytes, object]]:
    """``count`` ``cookie SP bencode`` notifications read from a TCP ng connection."""
    data = b""
    while data.count(b" d6:notify") < count or not data.endswith(b"ee"):
        data += sock.recv(4096)
    messages = re.split(rb"(?=[0-9a-f]{16} d6:notify)", data)
    out = []
    for message in filter(None, messages):
        cookie, _, body = message.partition(b" ")
        out.append((cookie, _text(bencodepy.decode(body))))
    return out


def test_dtmf_events_go_to_tcp_ng_clients(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """Real TCP clients each get each event once, as rtpengine 10.5 sends it (format
    captured from 10.5 with --dtmf-log-ng-tcp); one that has gone gets nothing and hurts no
    one; ng over the same connections still works.  Eight clients: with several workers
    (RTPGATE_TEST_WORKERS) their connections land on every worker, not only the call's
    owner, but almost surely (1 - 2**-8 at two workers)."""
    server = rtpgate_server("--delete-delay=0", "--listen-http=127.0.0.1:0",
                            "--listen-tcp-ng=127.0.0.1:0",
                            "--dtmf-log-ng-tcp")
    address = server.address("ng-tcp")
    clients = [socket.create_connection(address, timeout=3) for _ in range(9)]
    clients[8].close()
    call = Call(server)
    try:
        call.connect()
        packets = [event(1, 1000, 5, False, 160), *(event(n, 1000, 5, True, 800)
                                                    for n in (2, 3, 4)),
                   event(5, 2000, 11, True, 400)]
        for data in packets:
            call.alice.send(data)
            call.bob.rtp.settimeout(2.0)
            assert call.bob.rtp.recv(4096) == data
        for client in clients[:8]:
            got = _notifications(client, 2)
            assert [len(cookie) for cookie, _ in got] == [16, 16] and got[0][0] != got[1][0]
            for (_, notification), (digit, duration) in zip(got, ((5, 100), (11, 50)),
                                                             strict=True):
                assert isinstance(notification, dict)
                data = notification["data"]
                assert isinstance(data, dict) and data.pop("timestamp", 0) > 0
                assert notification == {"notify": "onDTMF", "data": {
                    "tags": ["alice", "bob"], "callid": call.call_id, "source_tag": "alice",
                    "type": "DTMF", "source_ip": LOCAL, "event": digit,
                    "duration": duration, "volume": 10}}
                assert list(data) == ["tags", "callid", "source_tag", "type", "source_ip",
                                      "event", "duration", "volume"]  # rtpengine's order
            client.settimeout(0.3)
            with pytest.raises(TimeoutError):  # once per event
                client.recv(4096)
            client.settimeout(3)
            client.sendall(b"c1 d7:command4:pinge")
            assert client.recv(4096) == b"c1 d6:result4:ponge"
    finally:
        call.close()
        for client in clients:
            client.close()


def test_no_tcp_notifications_without_the_option(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--delete-delay=0", "--listen-http=127.0.0.1:0",
                            "--listen-tcp-ng=127.0.0.1:0")
    client = socket.create_connection(server.address("ng-tcp"), timeout=3)
    call = Call(server)
    try:
        call.connect()
        call.alice.send(event(1, 1000, 5, True, 800))
        call.bob.rtp.settimeout(2.0)
        call.bob.rtp.recv(4096)
        client.settimeout(0.5)
        with pytest.raises(TimeoutError):
            client.recv(4096)
    finally:
        call.close()
        client.close()
