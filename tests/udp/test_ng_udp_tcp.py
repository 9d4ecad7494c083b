"""ng over UDP and TCP end to end: framing as rtpengine, the shared cookie cache, statistics per
source address.  Every plugin installed; the server on ephemeral loopback ports."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from ng_wire import ALL_LISTENERS, cookie, ng_udp, udp_request
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess, recv_until_closed
from websockets.sync.client import connect

Start = Callable[..., ServerProcess]
PING = b"d7:command4:pinge"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(ALL_LISTENERS, workdir=tmp_path_factory.mktemp("ng-udp")).start()
    yield proc
    assert proc.stop() == 0, proc.log


def tcp_exchange(sock: socket.socket, data: bytes, idle: float = 0.5) -> bytes:
    sock.sendall(data)
    sock.settimeout(idle)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        pass
    return received


# ---------------------------------------------------------------------- UDP framing


@pytest.mark.parametrize("family", ["ng-udp v4", "ng-udp v6"])
def test_udp_ping(server: ServerProcess, family: str) -> None:
    address = server.addresses("ng-udp")[0 if family.endswith("v4") else 1]
    key = cookie()
    assert udp_request(address, key + b" " + PING) == key + b" d6:result4:ponge"


@pytest.mark.parametrize(("body", "reply"), [
    (b'{"command":"ping"}', b'{"result":"pong"}'),
    (b"d7:command", b"d6:result5:error12:error-reason35:Could not decode bencode dictionarye"),
    (b"d7:command3:zzze", b"d6:result5:error12:error-reason20:Unrecognized commande"),
    (b"", b"d6:result5:error12:error-reason25:Invalid data (no payload)e"),
])
def test_udp_replies_in_the_request_format(server: ServerProcess, body: bytes,
                                           reply: bytes) -> None:
    key = cookie()
    assert udp_request(server.address("ng-udp"), key + b" " + body) == key + b" " + reply


def test_udp_datagram_without_cookie_gets_no_reply(server: ServerProcess) -> None:
    assert udp_request(server.address("ng-udp"), PING, timeout=0.5) is None
    assert ng_udp(server.address("ng-udp"), {"command": "ping"})["result"] == "pong"


def test_udp_large_request_is_answered(server: ServerProcess) -> None:
    """A 60 kB request (an SDP-sized blob many times over) is one datagram, one reply."""
    request = {"command": "ping", "padding": "x" * 60000}
    assert ng_udp(server.address("ng-udp"), request)["result"] == "pong"


# ---------------------------------------------------------------------- TCP framing


def test_tcp_ping_two_in_one_write_and_a_split_one(server: ServerProcess) -> None:
    with server.connect("ng-tcp") as sock:
        assert tcp_exchange(sock, b"a1 " + PING) == b"a1 d6:result4:ponge"
        assert tcp_exchange(sock, b"a2 " + PING + b"a3 " + PING) == (
            b"a2 d6:result4:pongea3 d6:result4:ponge")
        sock.sendall(b"a4 d7:comm")
        time.sleep(0.1)
        assert tcp_exchange(sock, b"and4:pinge") == b"a4 d6:result4:ponge"


def test_tcp_json_never_forms_a_message_and_the_connection_stays(server: ServerProcess) -> None:
    with server.connect("ng-tcp") as sock:
        assert tcp_exchange(sock, b'j1 {"command":"ping"}') == b""
        sock.sendall(b"x")  # still open: writing does not fail, and no reply comes
        assert tcp_exchange(sock, b"", idle=0.3) == b""


def test_tcp_incomplete_message_over_64_kib_closes_the_connection(server: ServerProcess
                                                                  ) -> None:
    with server.connect("ng-tcp") as sock:
        sock.sendall(b"big d3:sdp70000:" + b"v" * 65536)
        assert recv_until_closed(sock) == b""
    with server.connect("ng-tcp") as sock:
        assert tcp_exchange(sock, b"after " + PING) == b"after d6:result4:ponge"


# ---------------------------------------------------------------------- the cookie cache


def test_cookie_sent_over_http_then_udp_gets_the_http_reply(server: ServerProcess) -> None:
    """As rtpengine: the cache is keyed by the cookie alone and shared by every transport, so a
    bencode ping over UDP reusing the cookie of a JSON ping over HTTP gets the JSON reply."""
    key = cookie()
    status, _, http_reply = server.http(
        "POST", "/ng", key + b' {"command":"ping"}',
        {"Content-Type": "application/x-rtpengine-ng"})
    assert (status, http_reply) == (200, key + b' {"result":"pong"}')
    assert udp_request(server.address("ng-udp"), key + b" " + PING) == http_reply
    with server.connect("ng-tcp") as sock:
        assert tcp_exchange(sock, key + b" " + PING) == http_reply


def test_cookie_sent_over_udp_then_websocket_and_tcp(server: ServerProcess) -> None:
    key = cookie()
    udp_reply = udp_request(server.address("ng-udp"), key + b" d7:command3:zzze")
    assert udp_reply is not None and b"Unrecognized command" in udp_reply
    with connect(server.ws_url(), subprotocols=["ng.rtpengine.com"],  # type: ignore[list-item]
                 open_timeout=5) as ws:
        ws.send(key + b" " + PING)
        assert ws.recv(timeout=5) == udp_reply
    with server.connect("ng-tcp") as sock:
        assert tcp_exchange(sock, key + b" " + PING) == udp_reply


# ---------------------------------------------------------------------- per-source statistics


def test_requests_are_counted_per_source_address_and_command(rtpgate_server: Start) -> None:
    server = rtpgate_server(*ALL_LISTENERS)
    udp = server.address("ng-udp")
    sent = {"127.0.0.2": ("ping", "ping", "statistics"), "127.0.0.3": ("ping",),
            "127.0.0.4": ("statistics",)}
    for source, commands in sent.items():
        for command in commands:
            ng_udp(udp, {"command": command}, source=source)
    with socket.create_connection(server.address("ng-tcp"), source_address=("127.0.0.5", 0)
                                  ) as sock:
        assert b"pong" in tcp_exchange(sock, b"c " + PING)
    expected = {"127.0.0.2": {"ping": 2, "statistics": 1}, "127.0.0.3": {"ping": 1},
                "127.0.0.4": {"statistics": 1}, "127.0.0.5": {"ping": 1}}

    # ng statistics, asked from ::1: a source of its own, counted once answered
    stats = ng_udp(server.addresses("ng-udp")[1], {"command": "statistics"})
    proxies = {p["proxy"]: p for p in stats["statistics"]["controlstatistics"]["proxies"]}
    assert set(proxies) == set(expected)
    for proxy, counts in expected.items():
        assert proxies[proxy]["pingcount"] == counts.get("ping", 0)
        assert proxies[proxy]["statscount"] == counts.get("statistics", 0)

    # /metrics
    expected["::1"] = {"statistics": 1}
    _, _, metrics = server.http("GET", "/metrics")
    for proxy, counts in expected.items():
        for command, count in counts.items():
            line = f'rtpengine_requests_total{{proxy="{proxy}",request="{command}"}} '
            assert re.search(re.escape(line) + rf"{count}(\.0)?$", metrics.decode(), re.M), line

    # rtpengine-ctl list totals over the CLI port (when Debian's rtpengine-ctl is installed)
    ctl = subprocess.run(["rtpengine-ctl", "-ip", "127.0.0.1", "-port",
                          str(server.port("cli-tcp")), "list", "totals"],
                         capture_output=True, text=True, timeout=10, check=False) \
        if _have("rtpengine-ctl") else None
    text = ctl.stdout if ctl is not None else _cli(server, b"list totals\n")
    table = text[text.index("Control statistics:"):]
    header = [h.strip() for h in table.splitlines()[2].split("|")]
    for proxy, counts in expected.items():
        row = next(line for line in table.splitlines() if line.split("|")[0].strip() == proxy)
        cells = dict(zip(header, (c.strip() for c in row.split("|")), strict=False))
        assert cells["Ping"] == str(counts.get("ping", 0))
        assert cells["Stats"] == str(counts.get("statistics", 0))


def _have(command: str) -> bool:
    return subprocess.run(["sh", "-c", f"command -v {command}"], capture_output=True,
                          check=False).returncode == 0


def _cli(server: ServerProcess, line: bytes) -> str:
    with server.connect("cli-tcp") as sock:
        sock.sendall(line)
        return recv_until_closed(sock).decode()


def test_json_statistics_reply_over_udp_is_json(server: ServerProcess) -> None:
    key = cookie()
    reply = udp_request(server.address("ng-udp"), key + b' {"command":"statistics"}')
    assert reply is not None and reply.startswith(key + b' {"statistics":')
    assert json.loads(reply.partition(b" ")[2])["result"] == "ok"
    assert codec.decode(reply.partition(b" ")[2])[1] == "json"
