"""Every declared key of every installed ng command, with values of every bencode type, over UDP,
TCP and HTTP: each request gets an ng reply (never silence, never a 500), and no traceback reaches
the log.

The commands and their keys are read from ``rtpgate ng-schema``, so a command a plugin adds is
covered as soon as it is installed.  A fixed sweep sends each key the values that broke before
(an integer key given ``0:`` threw ``IndexError``: HTTP 500, silence over UDP and TCP) and
hypothesis adds random values of every bencode type, alone and on top of a valid request (so the
handlers run too, not only validation).
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

COOKIES = itertools.count()
SDP = ("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0 8\r\na=sendrecv\r\n")
BASE = {"call-id": "every-key", "from-tag": "a", "to-tag": "b", "sdp": SDP}

#: The values that found defects, or are at an edge of a type, for the fixed sweep.
EDGE_VALUES: list[Any] = [b"", 0, -1, 2**64, -(2**70), b"\xff\xfe\x80", b"0", b"-", b"+",
                          b"\xd9\xa3", [], [[[b"x"]]], [b"", 1, [b"\xff"]], {},
                          {b"a": {b"b": [b"c", 7]}}, b"x" * 3000]


def _schema() -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-m", "rtpgate", "ng-schema"], check=True,
                         capture_output=True, text=True).stdout
    commands = {}
    for name, info in json.loads(out)["commands"].items():
        keys: list[str] = []
        for prop, spec in info["request"]["properties"].items():
            keys += spec.get("x-rtpengine-keys", [prop])
        commands[name] = sorted(set(keys))
    return commands


SCHEMA = _schema()
PAIRS = [(command, key) for command, keys in SCHEMA.items() for key in keys]

#: Values of every bencode type: byte strings (empty, non-UTF-8, numeric), integers of any
#: size, and lists and dictionaries nested in each other.
scalars = st.one_of(st.binary(max_size=40), st.integers(), st.integers(-(2**200), 2**200),
                    st.sampled_from([b"", b"0", b"-1", b"+", b"yes", b"\xff"]),
                    st.text(max_size=20).map(str.encode))
bvalues = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.binary(max_size=8), inner, max_size=4)), max_leaves=10)

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def bencode(value: Any) -> bytes:
    """bencode with byte-string keys and values kept as they are (non-UTF-8 included)."""
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return b"%d:%s" % (len(value), value)


class Clients:
    """One UDP socket, one TCP connection and the HTTP listener of one server."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.settimeout(10)
        self.udp_address = server.address("ng-udp")
        self.tcp: socket.socket | None = None
        self.transports = itertools.cycle(["udp", "tcp", "http"])

    def _tcp(self) -> socket.socket:
        if self.tcp is None:
            self.tcp = socket.create_connection(self.server.address("ng-tcp"), timeout=10)
        return self.tcp

    def send(self, payload: bytes) -> tuple[str, dict[str, Any]]:
        """``payload`` with a fresh cookie over the next transport: (transport, decoded reply).
        Fails on silence, a closed connection or a reply that is not an ng dictionary."""
        transport = next(self.transports)
        cookie = b"k%d" % next(COOKIES)
        message = cookie + b" " + payload
        if transport == "udp":
            self.udp.sendto(message, self.udp_address)
            reply = self.udp.recv(65535)
        elif transport == "tcp":
            sock = self._tcp()
            sock.sendall(message)
            reply = b""
            while True:
                chunk = sock.recv(65535)
                assert chunk, f"TCP connection closed after {payload[:200]!r}"
                reply += chunk
                got, _, body = reply.partition(b" ")
                try:
                    codec.bencode_prefix_length(body)
                    break
                except ValueError:
                    continue
        else:
            status, _, reply = self.server.http(
                "POST", "/ng", message, {"Content-Type": "application/x-rtpengine-ng"})
            assert status == 200, (status, reply, payload[:200])
        got, _, body = reply.partition(b" ")
        assert got == cookie, (transport, reply[:200])
        decoded, _ = codec.decode(body)
        assert decoded.get("result") in ("ok", "pong", "error", "load limit"), decoded
        if decoded["result"] == "error":
            assert decoded["error-reason"], decoded
            assert decoded["error-reason"] != "Internal error", (payload[:300], decoded)
        return transport, decoded

    def close(self) -> None:
        self.udp.close()
        if self.tcp is not None:
            self.tcp.close()


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    server = ServerProcess(["--delete-delay=0", "--listen-http=127.0.0.1:0",
                            "--listen-ng=127.0.0.1:0", "--listen-tcp-ng=127.0.0.1:0"],
                           workdir=tmp_path_factory.mktemp("ng-every-key")).start()
    clients = Clients(server)
    yield clients
    clients.close()
    log = server.log
    assert server.alive, log
    assert server.stop() == 0, log
    assert "Traceback" not in log, log[-5000:]


def cleanup(clients: Clients) -> None:
    _, listed = clients.send(bencode({"command": "list", "limit": 1000}))
    for call_id in listed.get("calls", []):
        clients.send(bencode({"command": "delete", "call-id": call_id, "delete-delay": 0}))


def test_schema_lists_every_command() -> None:
    """The sweep covers what is installed: the engine's commands and the plugins' (cli)."""
    assert {"offer", "answer", "delete", "query", "list", "ping", "statistics",
            "block DTMF", "start recording", "cli"} <= set(SCHEMA)
    assert len(PAIRS) > 500


def test_every_key_with_edge_values(clients: Clients) -> None:
    """Each (command, key) pair with each edge value, alone and on top of a valid request."""
    for command, key in PAIRS:
        for value in EDGE_VALUES:
            clients.send(bencode({"command": command, key: value}))
            clients.send(bencode({"command": command, **BASE, key: value}))
        if command in ("offer", "answer"):
            cleanup(clients)
    cleanup(clients)


def test_integer_key_with_empty_string(clients: Clients) -> None:
    """The reported case: ``delete-delay``, ``TOS``, ``ptime`` given ``0:``."""
    for command, key in [("delete", "delete-delay"), ("offer", "TOS"), ("offer", "ptime"),
                         ("delete", "delete delay"), ("answer", "ptime-reverse")]:
        for _ in range(3):  # once over each transport
            transport, reply = clients.send(bencode({"command": command, **BASE, key: b""}))
            assert reply["result"] in ("ok", "error"), (transport, reply)
    cleanup(clients)


@SETTINGS
@given(pair=st.sampled_from(PAIRS), value=bvalues, with_base=st.booleans(),
       extra=st.dictionaries(st.binary(max_size=12), bvalues, max_size=3))
def test_random_values(clients: Clients, pair: tuple[str, str], value: Any, with_base: bool,
                       extra: dict[bytes, Any]) -> None:
    command, key = pair
    request: dict[Any, Any] = {"command": command, **(BASE if with_base else {})}
    request.update(extra)
    request[key] = value
    request["command"] = command
    _, reply = clients.send(bencode(request))
    if with_base and reply["result"] != "error":
        cleanup(clients)
