"""Every listener that cannot open names its option and its address (HTTP as ng and CLI do)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import run_rtpgate
from rtpgate.testing import self_signed_cert


@pytest.fixture(scope="module")
def taken() -> Iterator[int]:
    """A port held by this test on 127.0.0.1, for TCP and UDP alike."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        yield port


@pytest.mark.parametrize("option", ["listen-http", "listen-https", "listen-ng", "listen-tcp-ng",
                                    "listen-cli"])
@pytest.mark.parametrize(("address", "error"), [
    ("taken", "cannot bind 127.0.0.1:{port}: Address already in use"),
    ("nosuchhost.invalid:0", "cannot resolve nosuchhost.invalid:0: "),
    ("192.0.2.1:0", "cannot bind 192.0.2.1:0: Cannot assign requested address"),
])
def test_listener_error_names_option_and_address(option: str, address: str, error: str,
                                                 taken: int, tmp_path: Path) -> None:
    if address == "taken":
        address = f"127.0.0.1:{taken}"
    tls: list[str] = []
    if option == "listen-https":
        cert, key = self_signed_cert(tmp_path)
        tls = [f"--https-cert={cert}", f"--https-key={key}"]
    result = run_rtpgate("-f", "-E", "--config-file=none", f"--{option}={address}", *tls,
                         cwd=tmp_path)
    assert result.returncode == 1
    expected = f"cannot start: --{option}: " + error.format(port=taken)
    assert expected in result.stderr, result.stderr
