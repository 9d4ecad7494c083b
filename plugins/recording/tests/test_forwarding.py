"""``start forwarding``/``stop forwarding``: copies of what the call's parties send reach the
``--forward-to`` UDP target, for the whole call or one party (``directional``)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from callhelp import drain, make_call, ng, rtp, udp
from rtpgate.testing import ServerProcess


def _received(sock: socket.socket) -> list[bytes]:
    got = []
    sock.settimeout(0.3)
    with contextlib.suppress(TimeoutError):
        while True:
            got.append(sock.recv(4096))
    return got


def test_forwarding_whole_call_then_one_party(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    target = udp()
    port = target.getsockname()[1]
    server = rtpgate_server(f"--forward-to=127.0.0.1:{port}", "--delete-delay=0")
    call = make_call(server)
    before = [rtp(0, b"\x00" * 160, 1), rtp(0, b"\x01" * 160, 2)]
    call.send("a", before[0])
    call.send("b", before[1])
    assert _received(target) == []  # nothing until forwarding starts

    assert call.ng("start forwarding", all="all")["result"] == "ok"
    both = [rtp(1, b"\x02" * 160, 1), rtp(1, b"\x03" * 160, 2), rtp(2, b"\x04" * 160, 1)]
    for packet, sender in zip(both, "aba", strict=True):
        assert call.send(sender, packet) == packet  # media goes on as before
    assert _received(target) == both

    assert call.ng("stop forwarding", all="all")["result"] == "ok"
    call.send("a", rtp(3, b"\x05" * 160, 1))
    assert _received(target) == []

    assert call.ng("start forwarding", **{"from-tag": "b",
                                          "flags": ["directional"]})["result"] == "ok"
    only_b = rtp(4, b"\x06" * 160, 2)
    call.send("a", rtp(4, b"\x07" * 160, 1))
    call.send("b", only_b)
    assert _received(target) == [only_b]
    query = call.ng("query")
    assert query["tags"]["b"]["recording"] == {"excluded": 0, "forwarding": 1}
    assert query["tags"]["a"]["recording"] == {"excluded": 0, "forwarding": 0}
    drain(call.a)
    call.ng("delete")
    assert server.stop() == 0
    assert "4 forwarded, 0 forwarding errors" in server.log


def test_forwarding_unknown_call_is_an_error(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--forward-to=127.0.0.1:9")
    reply = ng(server, "start forwarding", **{"call-id": "nope"})
    assert reply == {"result": "error", "error-reason": "Unknown call-ID"}
    reply = ng(server, "stop recording", **{"call-id": "nope"})
    assert reply == {"result": "error", "error-reason": "Unknown call-id"}
