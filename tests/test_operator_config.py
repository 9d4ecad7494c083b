"""What an rtpengine operator brings: Debian's stock rtpengine.conf, media interfaces."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import run_rtpgate
from rtpgate.engine.interfaces import host_addresses
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\n")


def ng(address: tuple[str, int], request: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        sock.sendto(b"c1 " + codec.encode(request, "bencode"), address)
        reply = sock.recv(65535)
    return codec.decode(reply.partition(b" ")[2])[0]


def stock_rtpengine_conf() -> Path:
    """Debian's /etc/rtpengine/rtpengine.conf, found through the package that ships it."""
    if shutil.which("dpkg") is None:
        pytest.skip("not a Debian system: no stock rtpengine.conf (rtpengine-daemon package)")
    listing = subprocess.run(["dpkg", "-L", "rtpengine-daemon"], capture_output=True, text=True)
    conf = next((Path(line) for line in listing.stdout.splitlines()
                 if line.endswith("/rtpengine.conf")), None)
    if listing.returncode != 0 or conf is None or not conf.is_file():
        pytest.skip("rtpengine-daemon is not installed (.ci/run installs it)")
    return conf


def test_debian_stock_rtpengine_conf_loads(rtpgate_server: Callable[..., ServerProcess],
                                          tmp_path: Path) -> None:
    """The whole stock file, ``interface = any`` included, with only its ports moved."""
    text = stock_rtpengine_conf().read_text()
    assert re.search(r"^interface = any$", text, re.MULTILINE)
    moved, count = re.subn(r"^(listen-[\w-]+ = (?:\S+:)?)\d+$", r"\g<1>0", text,
                           flags=re.MULTILINE)
    assert count >= 3
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(moved)
    server = rtpgate_server(f"--config-file={conf}", listeners=[])
    assert {b["kind"] for b in server.listeners} >= {"ng-udp", "http", "cli-tcp"}
    assert "invalid" not in server.log and "ERROR" not in server.log
    status, _, body = server.http("GET", "/ping")
    assert (status, body) == (200, b"pong\n")
    # any = every non-loopback address: the offer is answered on the first of them
    reply = ng(server.address("ng-udp"), {"command": "offer", "call-id": "stock",
                                          "from-tag": "a", "sdp": SDP})
    assert reply["result"] == "ok", reply
    advertised = re.search(r"^c=IN IP[46] (\S+)\r$", reply["sdp"], re.MULTILINE)
    assert advertised is not None and advertised[1] == host_addresses()[0]
    assert not advertised[1].startswith("127.")


def test_interface_any_is_every_non_loopback_address(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    addresses = host_addresses()
    if not addresses:
        pytest.skip("this host has no address besides loopback")
    server = rtpgate_server("--interface=any", "--listen-cli=127.0.0.1:0")
    with socket.create_connection(server.address("cli-tcp"), timeout=10) as sock:
        sock.sendall(b"list interfaces\n")
        text = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    for address in addresses:
        assert address in text
    assert "127.0.0.1" not in text and "::1" not in text


@pytest.mark.parametrize("spec", ["192.0.2.77", "pub/2001:db8::77"])
def test_interface_that_is_not_local_is_refused_at_start(spec: str, tmp_path: Path) -> None:
    address = spec.rpartition("/")[2]
    assert address not in host_addresses()
    result = run_rtpgate("-f", "-E", "--config-file=none", "--listen-http=127.0.0.1:0",
                         f"--interface={spec}", cwd=tmp_path)
    assert result.returncode == 2
    assert f"rtpgate: --interface (command line): invalid interface {spec!r}: cannot bind " \
        f"{address} (Cannot assign requested address); an address this host does not have " \
        f"can only be advertised: LOCAL-IP!{address}" in result.stderr, result.stderr


def test_advertised_only_address_is_accepted(rtpgate_server: Callable[..., ServerProcess]
                                            ) -> None:
    server = rtpgate_server("--interface=127.0.0.1!192.0.2.77", "--listen-ng=127.0.0.1:0")
    reply = ng(server.address("ng-udp"), {"command": "offer", "call-id": "adv",
                                          "from-tag": "a", "sdp": SDP})
    assert reply["result"] == "ok", reply
    assert "c=IN IP4 192.0.2.77\r\n" in reply["sdp"]
