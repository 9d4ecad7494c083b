"""Several HTTP and HTTPS listeners, certificates, and the refusal of HTTPS without one."""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from rtpgate.testing import ServerProcess, self_signed_cert


def https_get(server: ServerProcess, port: int, cafile: Path, path: str = "/probe/exact"
              ) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_several_http_listeners_all_serve(probe_server: Callable[..., ServerProcess]) -> None:
    server = probe_server("--listen-http=127.0.0.1:0", "--listen-http=127.0.0.1:0")
    ports = [port for _, port in server.addresses("http")]
    assert len(set(ports)) == 2 and not server.addresses("https")
    for port in ports:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/probe/exact")
        assert conn.getresponse().read().startswith(b"probe-exact http ")
        conn.close()


def test_https_listeners_with_self_signed_cert(probe_server: Callable[..., ServerProcess],
                                               tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    server = probe_server("--listen-http=127.0.0.1:0", "--listen-https=127.0.0.1:0",
                          "--listen-https=127.0.0.1:0", f"--https-cert={cert}",
                          f"--https-key={key}")
    https_ports = [port for _, port in server.addresses("https")]
    assert len(set(https_ports)) == 2
    for port in https_ports:
        status, body = https_get(server, port, cert)
        assert status == 200
        assert body.startswith(b"probe-exact https GET '/probe/exact'")
        assert https_get(server, port, cert, "/PROBE/exact") == (404, b"not found\n")
    assert server.http("GET", "/probe/exact")[2].startswith(b"probe-exact http ")


def test_key_defaults_to_the_certificate_file(probe_server: Callable[..., ServerProcess],
                                              tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    combined = tmp_path / "combined.pem"
    combined.write_bytes(cert.read_bytes() + key.read_bytes())
    server = probe_server("--listen-https=127.0.0.1:0", f"--https-cert={combined}")
    assert not server.addresses("http")  # only what was listed opens
    assert https_get(server, server.port("https"), cert)[0] == 200


def test_plain_http_on_the_https_port_does_not_disturb_it(
        probe_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    server = probe_server("--listen-https=127.0.0.1:0", f"--https-cert={cert}",
                          f"--https-key={key}")
    with socket.create_connection(server.address("https"), timeout=5) as sock:
        sock.sendall(b"GET /probe/exact HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.settimeout(5)
        try:
            answer = sock.recv(100)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 200")
    assert https_get(server, server.port("https"), cert)[0] == 200


def run_rtpgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.run([sys.executable, "-m", "rtpgate", "-f", "-E", "--config-file=none",
                           "--plugin=probe_protocols", f"--ready-file={cwd / 'ready.json'}", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_https_without_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    port = free_port()
    result = run_rtpgate(f"--listen-http=127.0.0.1:{port}", "--listen-https=127.0.0.1:0",
                         cwd=tmp_path)
    assert result.returncode == 2
    assert "--listen-https" in result.stderr and "--https-cert" in result.stderr
    assert "listening" not in result.stderr
    assert not (tmp_path / "ready.json").exists()


def test_unreadable_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    result = run_rtpgate("--listen-https=127.0.0.1:0", f"--https-cert={bogus}", cwd=tmp_path)
    assert result.returncode == 2
    assert "--https-cert" in result.stderr


def test_port_in_use_fails_cleanly(probe_server: Callable[..., ServerProcess],
                                   tmp_path: Path) -> None:
    taken = probe_server()
    result = run_rtpgate(f"--listen-http=127.0.0.1:{taken.port()}", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot start" in result.stderr
    assert taken.http("GET", "/probe/exact")[0] == 200
