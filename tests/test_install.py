"""Installing and uninstalling plugins, the contrib files, and the README on a fresh clone.

These make virtual environments, run pip and clone the repository, so they are slow; they still
run in CI (``-m "not slow"`` leaves them out locally).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import REPO, ScratchVenv
from rtpgate.testing import ServerProcess
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.slow


def ws_reply(server: ServerProcess, subprotocol: str, message: bytes) -> bytes | str:
    with connect(server.ws_url(), subprotocols=[subprotocol],  # type: ignore[list-item]
                 open_timeout=5) as conn:
        conn.send(message)
        return conn.recv(timeout=5)


def ws_refused(server: ServerProcess, subprotocol: str) -> bool:
    try:
        ws_reply(server, subprotocol, b"x")
    except InvalidStatus:
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_body(url: str, timeout: float, alive: Callable[[], bool]) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert alive(), "the server process ended"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                body: bytes = resp.read()
                return body
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout}s")


def test_uninstalling_echo_removes_ping_and_echo(
        scratch_venv: ScratchVenv, rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(python=scratch_venv.python)
    assert server.http("GET", "/ping")[2] == b"pong\n"
    assert ws_reply(server, "echo.rtpengine.com", b"hi") == b"hi"
    server.stop()

    scratch_venv.uninstall("rtpgate-echo")
    try:
        assert "rtpgate-echo" not in scratch_venv.rtpgate("plugins").stdout
        server = rtpgate_server(python=scratch_venv.python)
        assert server.http("GET", "/ping")[:3:2] == (404, b"not found\n")
        assert ws_refused(server, "echo.rtpengine.com")
        server.stop()
    finally:
        scratch_venv.install(REPO / "plugins" / "echo")

    server = rtpgate_server(python=scratch_venv.python)
    assert server.http("GET", "/ping")[2] == b"pong\n"
    assert ws_reply(server, "echo.rtpengine.com", b"back") == b"back"


def test_example_plugin_installs_and_uninstalls(
        scratch_venv: ScratchVenv, rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(python=scratch_venv.python)
    assert server.http("GET", "/hello")[0] == 404
    assert ws_refused(server, "reverse.example.org")
    server.stop()

    scratch_venv.install(REPO / "contrib" / "example-plugin")
    try:
        listing = scratch_venv.rtpgate("plugins").stdout
        assert "rtpgate-example 1.0.0 (example) [loaded]" in listing
        assert "    protocol reverse: WebSocket reverse.example.org\n" in listing
        server = rtpgate_server("--example-greeting=howdy", python=scratch_venv.python)
        assert server.http("GET", "/hello")[2] == b"howdy\n"
        assert ws_reply(server, "reverse.example.org", b"stressed") == b"desserts"
        assert server.http("GET", "/ping")[2] == b"pong\n"
        server.stop()
    finally:
        scratch_venv.uninstall("rtpgate-example")

    server = rtpgate_server(python=scratch_venv.python)
    assert server.http("GET", "/hello")[0] == 404
    assert ws_refused(server, "reverse.example.org")


def supervisorctl(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf),
                           *args], capture_output=True, text=True, timeout=30)


def test_supervisord_program(tmp_path: Path) -> None:
    pytest.importorskip("supervisor")
    port = free_port()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(f"""[unix_http_server]
file={tmp_path}/supervisor.sock
[supervisord]
nodaemon=true
logfile={tmp_path}/supervisord.log
pidfile={tmp_path}/supervisord.pid
childlogdir={tmp_path}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{tmp_path}/supervisor.sock
[include]
files={REPO}/contrib/supervisord/rtpgate.conf
""")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "RTPGATE_LISTEN_HTTP": f"127.0.0.1:{port}", "RTPGATE_CONFIG_FILE": "none"}
    # A pipe, as under a container runtime (a regular file would be written at two offsets).
    supervisord = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-n", "-c",
                                    str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   env=env, cwd=tmp_path)
    try:
        body = wait_for_body(f"http://127.0.0.1:{port}/ping", 30,
                             lambda: supervisord.poll() is None)
        assert body == b"pong\n"
        deadline = time.monotonic() + 15  # RUNNING once it has stayed up for startsecs
        while "RUNNING" not in supervisorctl(conf, "status", "rtpgate").stdout:
            assert time.monotonic() < deadline, "rtpgate never reached RUNNING"
            time.sleep(0.5)
        stopped = supervisorctl(conf, "stop", "rtpgate")
        assert "rtpgate: stopped" in stopped.stdout, stopped
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2)
        supervisorctl(conf, "shutdown")
        output = supervisord.communicate(timeout=30)[0].decode(errors="replace")
        assert supervisord.returncode == 0
    finally:
        if supervisord.poll() is None:  # the test failed midway: stop rtpgate and supervisord
            supervisorctl(conf, "shutdown")
            try:
                supervisord.wait(20)
            except subprocess.TimeoutExpired:
                supervisord.kill()
                supervisord.wait()
    assert "rtpgate ready" in output and "shutting down" in output  # rtpgate's log, on stdout


@pytest.mark.parametrize("name", ["rtpgate.service", "rtpgate-forking.service"])
def test_systemd_unit_verifies(tmp_path: Path, name: str) -> None:
    """Both units (Type=notify and Type=forking) pass ``systemd-analyze verify``, which also
    runs ``man rtpgate(8)`` for ``Documentation=`` (given the generated page; that pip installs
    it where the ``file:`` link points is checked by test_packaging)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (REPO / "contrib" / "systemd" / name).read_text()
    executable = Path(sys.executable).parent / "rtpgate"
    unit, count = re.subn(r"^ExecStart=\S+", f"ExecStart={executable}", unit, flags=re.MULTILINE)
    assert count == 1
    if name == "rtpgate.service":
        assert "Type=notify" in unit and "--foreground" in unit and "--log-stderr" in unit
    else:
        assert "Type=forking" in unit and "--foreground" not in unit and "--pidfile" in unit
        assert re.search(r"^PIDFile=(\S+)$", unit, re.MULTILINE)[1] in unit.split("ExecStart=")[1]
    docs = re.search(r"^Documentation=(.*)$", unit, re.MULTILINE)
    assert docs is not None and "man:rtpgate(8)" in docs[1].split()
    assert "file:///opt/rtpgate/venv/share/man/man8/rtpgate.8" in docs[1].split()
    man8 = tmp_path / "man" / "man8"
    man8.mkdir(parents=True)
    shutil.copy(REPO / "docs" / "rtpgate.8", man8)
    (tmp_path / name).write_text(unit)
    result = subprocess.run([analyze, "verify", str(tmp_path / name)], capture_output=True,
                            text=True, timeout=60,
                            env={**os.environ, "MANPATH": str(tmp_path / "man")})
    assert result.returncode == 0, result.stderr
    assert name not in result.stderr, result.stderr


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"^## On a fresh machine$.*?^```sh\n(.*?)^```$", text,
                      re.MULTILINE | re.DOTALL)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_two_commands_and_ci_runs_the_second() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert "tox" in commands[1]
    ci = REPO / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    assert "set -euo pipefail" in ci.read_text()


def test_fresh_clone_readme_first_command(tmp_path: Path) -> None:
    """Clone, run the README's first command, and ask the server for /ping."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8080))
            port, env = 8080, dict(os.environ)
        except OSError:  # something else has 8080: move the HTTP listener, keep the command
            port = free_port()
            env = {**os.environ, "RTPGATE_LISTEN_HTTP": f"127.0.0.1:{port}"}
    env.pop("VIRTUAL_ENV", None)
    log = tmp_path / "readme.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "-c", readme_commands()[0]], cwd=clone, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_for_body(f"http://127.0.0.1:{port}/ping", 600, lambda: proc.poll() is None)
        curl = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{port}/ping"],
                              capture_output=True, timeout=30)
        assert curl.stdout == b"pong\n"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    assert "shutting down" in log.read_text()


def test_uninstalling_dashboard_removes_its_page_and_subprotocol(
        scratch_venv: ScratchVenv, rtpgate_server: Callable[..., ServerProcess]) -> None:
    listing, options = (scratch_venv.rtpgate(word).stdout for word in ("plugins", "options"))
    scratch_venv.install(REPO / "plugins" / "dashboard")
    try:
        assert "rtpgate-dashboard 0.1.0 (dashboard) [loaded]" in \
            scratch_venv.rtpgate("plugins").stdout
        server = rtpgate_server("--dashboard", python=scratch_venv.python)
        assert server.http("GET", "/dashboard")[0] == 200
        assert b'"type":"history"' in ws_reply(server, "dashboard.rtpgate", b"{}")  # type: ignore[operator]
        server.stop()
    finally:
        scratch_venv.uninstall("rtpgate-dashboard")

    # nothing else changes: the same plugins and options as before it was installed
    assert scratch_venv.rtpgate("plugins").stdout == listing
    assert scratch_venv.rtpgate("options").stdout == options
    server = rtpgate_server(python=scratch_venv.python)
    assert server.http("GET", "/dashboard")[::2] == (404, b"not found\n")
    assert server.http("GET", "/dashboard/app.js")[0] == 404
    assert ws_refused(server, "dashboard.rtpgate")
    assert server.http("GET", "/ping")[2] == b"pong\n"
    assert ws_reply(server, "echo.rtpengine.com", b"still") == b"still"
