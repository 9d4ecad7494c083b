"""Access control on the control plane: source allow lists on the raw ng and CLI listeners,
credentials (bearer token, hashed basic) on every HTTP route and WebSocket subprotocol (a
third-party plugin's too), TLS client certificates on HTTPS; refusals counted in /metrics and
logged once per source; a warning for listeners open to the network without any of it."""

from __future__ import annotations

import base64
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess, recv_until_closed, worker_count
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

HERE = Path(__file__).parent
PING = b"d7:command4:pinge"
PROBE = ("--plugin=thirdparty_probe",)
PROBE_ENV = {"PYTHONPATH": str(HERE)}


def refused_count(server: ServerProcess, listener: str, reason: str,
                  headers: dict[str, str] | None = None) -> int:
    status, _, body = server.http("GET", "/metrics", headers=headers)
    assert status == 200, body
    found = re.search(rf'^rtpgate_access_refused_total\{{listener="{listener}",'
                      rf'reason="{reason}"\}} (\S+)$', body.decode(), re.M)
    return int(float(found.group(1))) if found else 0


def udp_ping(server: ServerProcess, source: str, timeout: float = 1.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.sendto(b"c1 " + PING, server.address("ng-udp"))
        try:
            return sock.recv(1000)
        except TimeoutError:
            return None


def tcp_exchange(address: tuple[str, int], source: str, data: bytes) -> bytes:
    with socket.create_connection(address, timeout=5, source_address=(source, 0)) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        return recv_until_closed(sock, timeout=2)


def test_ng_udp_allow_list(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """Only 127.0.0.2 may use ng over UDP: 127.0.0.1 gets no reply, is counted each time (by
    every worker together) and logged once (by each worker it reached: the log's limit is a
    process's, docs/architecture.md)."""
    server = rtpgate_server("--listen-ng=127.0.0.1:0", "--listen-http=127.0.0.1:0",
                            "--ng-allow=127.0.0.2/32")
    assert udp_ping(server, "127.0.0.2") == b"c1 d6:result4:ponge"
    for _ in range(5):
        assert udp_ping(server, "127.0.0.1", timeout=0.3) is None
    assert udp_ping(server, "127.0.0.2") == b"c1 d6:result4:ponge"
    assert refused_count(server, "ng-udp", "source") == 5
    assert 1 <= server.log.count("ng-udp: refused 127.0.0.1 (source not allowed)"
                                 ) <= worker_count()


def test_ng_tcp_and_cli_allow_lists(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """A refused TCP source is closed at once, before anything is read; --control-allow covers
    the CLI, which has no list of its own here."""
    server = rtpgate_server("--listen-tcp-ng=127.0.0.1:0", "--listen-cli=127.0.0.1:0",
                            "--listen-http=127.0.0.1:0", "--tcp-ng-allow=127.0.0.3",
                            "--control-allow=127.0.0.4/32")
    ng, cli = server.address("ng-tcp"), server.address("cli-tcp")
    assert tcp_exchange(ng, "127.0.0.1", b"c2 " + PING) == b""
    assert tcp_exchange(ng, "127.0.0.4", b"c2 " + PING) == b""
    with socket.create_connection(ng, timeout=5, source_address=("127.0.0.3", 0)) as sock:
        sock.sendall(b"c2 " + PING)
        assert sock.recv(100) == b"c2 d6:result4:ponge"
    assert tcp_exchange(cli, "127.0.0.1", b"list numsessions\n") == b""
    assert tcp_exchange(cli, "127.0.0.4", b"list numsessions\n").startswith(b"Current sessions")
    assert refused_count(server, "ng-tcp", "source") == 2
    assert refused_count(server, "cli-tcp", "source") == 1


def test_bad_allow_entry_stops_startup(rtpgate_server: Callable[..., ServerProcess]) -> None:
    with pytest.raises(Exception, match="ng-allow"):
        rtpgate_server("--listen-ng=127.0.0.1:0", "--ng-allow=not-a-network")


TOKEN = {"Authorization": "Bearer s3cret"}
ROUTES = [("GET", "/ping", None), ("GET", "/cli/list%20numsessions", None),
          ("POST", "/cli", "text/plain"), ("POST", "/ng", "application/x-rtpengine-ng"),
          ("POST", "/ng-plain", "application/x-rtpengine-ng"), ("GET", "/metrics", None),
          ("GET", "/thirdparty", None)]
BODIES = {"/cli": b"list numsessions", "/ng": b"c3 " + PING, "/ng-plain": PING}


def ws_status(server: ServerProcess, subprotocol: str,
              headers: dict[str, str] | None = None) -> int:
    try:
        with connect(server.ws_url(), subprotocols=[subprotocol],  # type: ignore[list-item]
                     additional_headers=headers, open_timeout=5) as conn:
            conn.send(b"c4 " + PING if subprotocol.startswith("ng") else b"hello")
            conn.recv(timeout=5)
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_bearer_token_on_every_route_and_subprotocol(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """No token or a wrong one: 401 with a challenge, on every route (the third-party plugin's
    included) and at every WebSocket handshake; the right one: served."""
    server = rtpgate_server("--http-auth-token=s3cret", "--http-auth-loopback", *PROBE,
                            env=PROBE_ENV)
    for method, path, ctype in ROUTES:
        body = BODIES.get(path.split("?")[0])
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            if ctype:
                headers = {**headers, "Content-Type": ctype}
            status, got, _ = server.http(method, path, body, headers)
            assert status == 401, (path, headers)
            assert got["www-authenticate"] == 'Bearer realm="rtpgate"'
        headers = {**TOKEN, **({"Content-Type": ctype} if ctype else {})}
        status, _, _ = server.http(method, path, body, headers)
        assert status == 200, path
    for subprotocol in ("ng.rtpengine.com", "ng-plain.rtpengine.com", "cli.rtpengine.com",
                        "echo.rtpengine.com", "thirdparty.example.com"):
        assert ws_status(server, subprotocol) == 401, subprotocol
        assert ws_status(server, subprotocol, {"Authorization": "Bearer nope"}) == 401
        assert ws_status(server, subprotocol, TOKEN) == 101, subprotocol
    assert refused_count(server, "http", "credentials", TOKEN) == 3 * len(ROUTES)
    assert refused_count(server, "ws", "credentials", TOKEN) == 10
    for kind in ("http", "ws"):  # once, by each worker a connection reached
        assert 1 <= server.log.count(f"{kind}: refused 127.0.0.1 (no valid credentials)"
                                     ) <= worker_count()


def test_exempt_route_and_loopback_default(rtpgate_server: Callable[..., ServerProcess]
                                           ) -> None:
    server = rtpgate_server("--http-auth-token=s3cret", "--http-auth-loopback",
                            "--http-auth-exempt=/ping", "--http-auth-exempt=echo.rtpengine.com")
    assert server.http("GET", "/ping")[0] == 200
    assert server.http("GET", "/metrics")[0] == 401
    assert ws_status(server, "echo.rtpengine.com") == 101
    assert ws_status(server, "cli.rtpengine.com") == 401
    # without --http-auth-loopback a loopback peer is trusted (off by default on loopback)
    local = rtpgate_server("--http-auth-token=s3cret")
    assert local.http("GET", "/metrics")[0] == 200


def test_hashed_basic_credentials(rtpgate_server: Callable[..., ServerProcess],
                                  tmp_path: Path) -> None:
    line = subprocess.run([sys.executable, "-m", "rtpgate", "hash-password", "ops"],
                          input="pa55word\n", capture_output=True, text=True, check=True).stdout
    assert line.startswith("ops:scrypt$") and "pa55word" not in line
    users = tmp_path / "users"
    users.write_text("# operators\n" + line)
    server = rtpgate_server(f"--http-auth-basic-file={users}", "--http-auth-loopback")

    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode())
                .decode()}

    assert server.http("GET", "/metrics", headers=basic("ops", "pa55word"))[0] == 200
    assert server.http("GET", "/metrics", headers=basic("ops", "pa55word"))[0] == 200  # cached
    status, headers, _ = server.http("GET", "/metrics", headers=basic("ops", "wrong"))
    assert status == 401 and headers["www-authenticate"] == 'Basic realm="rtpgate"'
    assert server.http("GET", "/metrics", headers=basic("root", "pa55word"))[0] == 401
    assert server.http("GET", "/metrics",
                       headers={"Authorization": "Basic !!notbase64"})[0] == 401
    assert ws_status(server, "cli.rtpengine.com", basic("ops", "pa55word")) == 101


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}-ca.key", directory / f"{name}-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name} CA", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    key, csr, cert = (directory / f"{name}.key", directory / f"{name}.csr",
                      directory / f"{name}.pem")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                    "-keyout", str(key), "-out", str(csr)], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey",
                    str(ca[1]), "-CAcreateserial", "-days", "2", "-out", str(cert),
                    "-extfile", "/dev/stdin"], input=b"subjectAltName=IP:127.0.0.1\n",
                   check=True, capture_output=True)
    return cert, key


def test_tls_client_certificates(rtpgate_server: Callable[..., ServerProcess],
                                 tmp_path: Path) -> None:
    """--https-client-ca: a certificate from another CA (or none) is refused at the handshake;
    one from the configured CA is served."""
    ours, theirs = _ca(tmp_path, "ours"), _ca(tmp_path, "theirs")
    server_cert = _signed(tmp_path, "server", ours)
    good, bad = _signed(tmp_path, "good", ours), _signed(tmp_path, "bad", theirs)
    server = rtpgate_server("--listen-https=127.0.0.1:0", f"--https-cert={server_cert[0]}",
                            f"--https-key={server_cert[1]}", f"--https-client-ca={ours[0]}")

    def get(client: tuple[Path, Path] | None) -> bytes:
        ctx = ssl.create_default_context(cafile=str(ours[0]))
        if client is not None:
            ctx.load_cert_chain(str(client[0]), str(client[1]))
        with socket.create_connection(server.address("https"), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return recv_until_closed(tls)

    assert get(good).startswith(b"HTTP/1.1 200")
    for client in (bad, None):
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            get(client)


def test_startup_warning_for_open_control_listeners(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--listen-ng=0.0.0.0:0", "--listen-http=0.0.0.0:0",
                            "--listen-cli=127.0.0.1:0")
    log = server.log
    assert re.search(r"ng-udp listener on 0\.0\.0\.0 is reachable from the network with no "
                     r"access control", log), log
    assert re.search(r"HTTP listener on 0\.0\.0\.0 is reachable", log), log
    assert "cli-tcp listener" not in log  # loopback
    guarded = rtpgate_server("--listen-ng=0.0.0.0:0", "--listen-http=0.0.0.0:0",
                             "--ng-allow=10.0.0.0/8", "--http-auth-token=x")
    assert "reachable from the network" not in guarded.log
