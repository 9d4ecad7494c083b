"""``rtpgate ctl`` finds the CLI port as a default rtpgate opens it, and a failure says which
address was tried and where that address came from."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.testing import ServerProcess

STOCK = Path("/etc/rtpengine/rtpengine.conf")
NUMSESSIONS_HEAD = b"Current sessions own: 0\n"


def ctl(*args: str, env: dict[str, str] | None = None, wrap: tuple[str, ...] = ()
        ) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RTPGATE_")}
    return subprocess.run([*wrap, sys.executable, "-m", "rtpgate", "ctl", *args],
                          capture_output=True, timeout=60, env={**base, **(env or {})})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refused_connection_names_address_and_source(tmp_path: Path) -> None:
    port = free_port()
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(f"[rtpengine]\nlisten-cli = 127.0.0.1:{port}\n")
    done = ctl("-config-file", str(conf), "list", "numsessions")
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"Cannot connect to the rtpengine at 127.0.0.1:{port} (listen-cli in [rtpengine] of "
        f"{conf}): Connection refused\n")
    done = ctl("-ip", "127.0.0.1", "-port", str(port), "list", "numsessions")
    assert done.stderr.decode() == (
        f"Cannot connect to the rtpengine at 127.0.0.1:{port} (-ip, -port): Connection "
        "refused\n")


def test_server_environment_variable_is_used(rtpgate_server: Callable[..., ServerProcess],
                                             tmp_path: Path) -> None:
    """RTPGATE_LISTEN_CLI (e.g. from /etc/default/rtpgate) is where the server listens; it
    wins over the config file's listen-cli."""
    server = rtpgate_server("--listen-cli=127.0.0.1:0")
    host, port = server.address("cli-tcp")
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(f"[rtpengine]\nlisten-cli = 127.0.0.1:{free_port()}\n")
    done = ctl("list", "numsessions", env={"RTPGATE_LISTEN_CLI": f"{host}:{port}",
                                           "RTPGATE_CONFIG_FILE": str(conf)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(NUMSESSIONS_HEAD)


def test_default_server_found_although_rtpengine_conf_exists(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """A host with rtpengine's /etc/rtpengine/rtpengine.conf (its listen-cli elsewhere) and a
    default rtpgate (reading no file, CLI on 127.0.0.1:9900): ``rtpgate ctl`` with no options
    reaches it, after saying nothing answered where the file pointed.  The file is replaced in
    a private mount namespace, so the host's copy is never touched."""
    if not STOCK.is_file() or shutil.which("unshare") is None:
        pytest.skip(f"needs {STOCK} (rtpengine-daemon) and unshare to cover it privately")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    with socket.socket() as check:
        check.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            check.bind(("127.0.0.1", 9900))
        except OSError:
            pytest.skip("127.0.0.1:9900, a default rtpgate's CLI port, is in use here")
    server = rtpgate_server("--listen-cli=127.0.0.1:9900")
    assert server.address("cli-tcp") == ("127.0.0.1", 9900)
    elsewhere = free_port()
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(f"[rtpengine]\nlisten-cli = 127.0.0.1:{elsewhere}\n")
    wrap = ("unshare", "-m", "sh", "-c", f'mount --bind "{conf}" {STOCK} && exec "$@"', "sh")
    done = ctl("list", "numsessions", wrap=wrap)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(NUMSESSIONS_HEAD)
    server.stop()
    done = ctl("list", "numsessions", wrap=wrap)
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"Cannot connect to the rtpengine at 127.0.0.1:{elsewhere} (listen-cli in [rtpengine] "
        f"of {STOCK}): Connection refused; nor at 127.0.0.1:9900 (the default of rtpgate's "
        "--listen-cli): Connection refused\n")
