"""Media ports: real bound sockets from the configured range on the configured interfaces,
released exactly once whatever happens, and nothing left behind after many calls."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from e2e_helpers import shared_file
from engine_client import (
    answer,
    bindable,
    call_id_on,
    delete,
    media_port,
    new_call_id,
    ng,
    offer,
    open_fds,
    ports_in_use,
    rtcp_port,
    sdp,
)
from rtpgate.testing import ServerProcess, free_port_block, media_ports, worker_count

NGLOAD = "tools/ngload.py"


def held(ports: list[int]) -> Iterator[socket.socket]:
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        yield sock


def test_ports_are_bound_and_released_once(rtpgate_server: Callable[..., ServerProcess]
                                           ) -> None:
    base = free_port_block(100)
    server = rtpgate_server("--delete-delay=0", f"--port-min={base}", f"--port-max={base + 99}")
    baseline = ports_in_use(server)
    call = new_call_id()
    o = offer(server, call)
    a = answer(server, call)
    ports = [media_port(o), rtcp_port(o), media_port(a), rtcp_port(a)]
    assert all(base <= p <= base + 99 for p in ports)
    assert media_port(o) % 2 == 0 and rtcp_port(o) == media_port(o) + 1
    assert media_port(a) % 2 == 0 and rtcp_port(a) == media_port(a) + 1
    assert ports_in_use(server) == baseline + 4
    assert not any(bindable(p) for p in ports)  # really bound by the server
    assert delete(server, call, from_tag="ft")["result"] == "ok"
    assert all(bindable(p) for p in ports)  # free again
    assert ports_in_use(server) == baseline
    # deleting again does not give anything back twice
    assert delete(server, call, from_tag="ft")["warning"]
    assert ports_in_use(server) == baseline


def test_ports_taken_by_others_are_skipped(rtpgate_server: Callable[..., ServerProcess]
                                           ) -> None:
    """Ten ports per worker (a worker allocates from its own share, docs/architecture.md): in
    each share the first pair and the RTCP port of the second are held by another program, so
    the worker's call gets the third pair or later of its share."""
    workers = worker_count()
    base = free_port_block(10 * workers)
    shares = [base + 10 * worker for worker in range(workers)]
    sockets = [sock for low in shares for sock in held([low, low + 1, low + 3])]
    try:
        server = rtpgate_server("--delete-delay=0", f"--port-min={base}",
                                f"--port-max={base + 10 * workers - 1}")
        for worker, low in enumerate(shares):
            call = call_id_on(worker, workers)
            o = offer(server, call)
            # low/low+1 are taken, low+2 is free but its RTCP port low+3 is taken
            assert {media_port(o), rtcp_port(o)} <= set(range(low + 4, low + 8))
            delete(server, call)
    finally:
        for sock in sockets:
            sock.close()


def test_out_of_ports_changes_nothing(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """Six ports per worker (a worker allocates from its own share, docs/architecture.md): a
    call takes four, so a second call on the same worker runs out, and that changes nothing
    there nor on any other worker, whose share still serves a call."""
    workers = worker_count()
    base = free_port_block(6 * workers)
    server = rtpgate_server("--delete-delay=0", f"--port-min={base}",
                            f"--port-max={base + 6 * workers - 1}")
    first = call_id_on(0, workers)
    offer(server, first)  # 4 ports: callee side and the caller's wildcard pair
    assert ports_in_use(server) == 4
    second = call_id_on(0, workers)
    assert offer(server, second) == {"result": "error", "error-reason": "Ran out of ports"}
    assert ng(server, {"command": "list"})["calls"] == [first]
    assert ports_in_use(server) == 4
    # a re-offer of the existing call that would need more ports fails without a trace
    before = ng(server, {"command": "query", "call-id": first})
    video = "m=video 16390 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n"
    assert offer(server, first, sdp=sdp(extra=video)) == {
        "result": "error", "error-reason": "Ran out of ports"}
    assert ng(server, {"command": "query", "call-id": first}) == before
    assert ports_in_use(server) == 4
    for worker in range(1, workers):  # the other shares are untouched
        other = call_id_on(worker, workers)
        assert base + 6 * worker <= media_port(offer(server, other)) < base + 6 * worker + 6
        assert ports_in_use(server) == 8
        delete(server, other)
    delete(server, first)
    assert ports_in_use(server) == 0
    assert all(bindable(p) for p in range(base, base + 6 * workers))


def test_named_interfaces_and_direction(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--delete-delay=0", *media_ports(100),
                            "--interface=pub/127.0.0.1!203.0.113.1",
                            "--interface=priv/127.0.0.2")
    call = new_call_id()
    o = offer(server, call, direction=["priv", "pub"])
    assert "c=IN IP4 203.0.113.1\r\n" in o["sdp"]  # towards the callee: pub, advertised
    a = answer(server, call)
    assert "c=IN IP4 127.0.0.2\r\n" in a["sdp"]  # towards the caller: priv
    query = ng(server, {"command": "query", "call-id": call})
    assert query["tags"]["ft"]["medias"][0]["streams"][0]["local address"] == "127.0.0.2"
    assert query["tags"]["tt"]["medias"][0]["streams"][0]["local address"] == "127.0.0.1"
    assert not bindable(media_port(o), "127.0.0.1") and not bindable(media_port(a), "127.0.0.2")
    delete(server, call)
    # from-interface/to-interface; an unknown name falls back to the default (the first)
    call = new_call_id()
    o = offer(server, call, **{"from-interface": "pub", "to-interface": "priv"})
    assert "c=IN IP4 127.0.0.2\r\n" in o["sdp"]
    assert "c=IN IP4 203.0.113.1\r\n" in offer(server, new_call_id(),
                                               direction=["x", "nope"])["sdp"]
    stats = ng(server, {"command": "statistics"})["statistics"]["interfaces"]
    assert [(i["name"], i["address"]) for i in stats] == [("pub", "127.0.0.1"),
                                                          ("priv", "127.0.0.2")]


def test_several_addresses_in_one_interface(rtpgate_server: Callable[..., ServerProcess]
                                            ) -> None:
    """rtpengine binds a port on every address of the interface (ICE candidates on each)."""
    server = rtpgate_server("--delete-delay=0", *media_ports(100),
                            "--interface=127.0.0.1", "--interface=127.0.0.3")
    call = new_call_id()
    o = offer(server, call, ICE="force")
    hosts = re.findall(r"^a=candidate:\S+ (\d) UDP \d+ (\S+) (\d+) typ host", o["sdp"], re.M)
    assert [(c, h) for c, h, _ in hosts] == [("1", "127.0.0.1"), ("1", "127.0.0.3"),
                                           ("2", "127.0.0.1"), ("2", "127.0.0.3")]
    assert "c=IN IP4 127.0.0.1\r\n" in o["sdp"]
    assert ports_in_use(server) == 8  # 2 streams x 2 addresses, both sides
    for _, host, port in hosts:
        assert not bindable(int(port), host)
    delete(server, call)
    assert ports_in_use(server) == 0


@pytest.mark.slow
def test_ten_thousand_cycles_leave_nothing(rtpgate_server: Callable[..., ServerProcess]
                                           ) -> None:
    """After 10,000 offer/answer/delete cycles the open descriptors and the port pool are back
    where they started."""
    server = rtpgate_server("--delete-delay=0", *media_ports(1000),
                            "--log-level=5")
    ng(server, {"command": "ping"})
    fds, ports = open_fds(server), ports_in_use(server)
    calls = 0
    # ngload runs at most 120 s at a time; a loaded machine may need more than one run
    for _ in range(4):
        out = subprocess.run([sys.executable, str(shared_file(NGLOAD)), "--transport", "http",
                              "--port", str(server.port()), "--concurrency", "8",
                              "--duration", "120", "--max-calls", str(10_000 - calls), "--json"],
                             capture_output=True, text=True, timeout=200)
        assert out.returncode == 0, out.stdout + out.stderr
        summary = json.loads(out.stdout.strip().splitlines()[-1])
        assert summary["errors"] == 0, summary
        calls += summary["calls"]
        if calls >= 10_000:
            break
    assert calls >= 10_000, calls
    assert ng(server, {"command": "list"})["calls"] == []
    assert ports_in_use(server) == ports
    assert open_fds(server, expect=fds) == fds
