"""Configuration end to end: precedence of the sources, an existing rtpengine.conf, bad values,
and the listener defaults."""

from __future__ import annotations

import itertools
import json
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import DATA, probe_env, run_rtpgate
from rtpgate.boot import boot
from rtpgate.testing import ServerProcess, self_signed_cert, worker_count


def settings_of(server: ServerProcess) -> dict[str, Any]:
    status, _, body = server.http("GET", "/settings")
    assert status == 200
    result: dict[str, Any] = json.loads(body)
    return result


def port_range(server: ServerProcess, settings: dict[str, Any]) -> tuple[int, int]:
    """The whole server's media port range.  At one worker that is the probe's settings; at
    more (RTPGATE_TEST_WORKERS), each worker allocates from its own share of the range
    (docs/architecture.md), the probe answers with the share of the worker its request landed
    on, and the ready file names every worker's share: they must be adjacent, in order, and the
    probe's must be one of them."""
    workers = json.loads(server.ready_file.read_text()).get("workers", [])
    assert len(workers or [None]) == worker_count()
    if not workers:
        return settings["port_min"], settings["port_max"]
    shares = [(w["port_min"], w["port_max"]) for w in workers]
    assert (settings["port_min"], settings["port_max"]) in shares, shares
    for (_, high), (next_low, _) in itertools.pairwise(shares):
        assert next_low == high + 1, shares
    return shares[0][0], shares[-1][1]


def write_ini(path: Path, body: str, section: str = "rtpengine") -> Path:
    path.write_text(f"[{section}]\n{body}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_defaults(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--plugin=settings_probe", env=probe_env())
    settings = settings_of(server)
    assert port_range(server, settings) == (30000, 40000)
    assert settings["interface"] == ["127.0.0.1"]
    assert settings["http_idle_timeout"] == 0 and settings["log_level"] == 6


def test_precedence_defaults_ini_env_argv(rtpgate_server: Callable[..., ServerProcess],
                                          tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "rtpgate.conf",
                    "port-min = 31000\nport-max = 39000\nhttp-max-body = 5000\n"
                    "interface = 127.0.0.2;127.0.0.3\n")
    env = {**probe_env(), "RTPGATE_PORT_MAX": "38000", "RTPGATE_HTTP_MAX_BODY": "6000"}
    server = rtpgate_server("--plugin=settings_probe", f"--config-file={ini}",
                            "--http-max-body=7000", env=env)
    settings = settings_of(server)
    # INI over default (port-min), environment over INI (port-max)
    assert port_range(server, settings) == (31000, 38000)
    assert settings["http_max_body"] == 7000  # command line over environment
    assert settings["interface"] == ["127.0.0.2", "127.0.0.3"]  # ';'-separated INI list
    assert settings["ws_max_message_size"] == 16 * 1024 * 1024  # default


def test_config_section_picks_the_section(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    ini = tmp_path / "multi.conf"
    ini.write_text("[rtpengine]\nport-min = 31000\n[other]\nport-min = 32000\n")
    server = rtpgate_server("--plugin=settings_probe", "--config-section=other",
                            f"--config-file={ini}", env=probe_env())
    assert port_range(server, settings_of(server))[0] == 32000


def test_existing_rtpengine_conf_loads_and_reports_unknown_options_once(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    # The reference rtpengine.conf as shipped, with its listener ports made ephemeral.
    text = re.sub(r"^(listen-[a-z-]+\s*=\s*[\d.]+):\d+$", r"\1:0",
                  (DATA / "rtpengine.conf").read_text(), flags=re.MULTILINE)
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(text)
    cert, key = self_signed_cert(tmp_path)
    server = rtpgate_server("--plugin=settings_probe", f"--config-file={conf}",
                            "--config-section=rtpengine-ref", f"--https-cert={cert}",
                            f"--https-key={key}", "--listen-http=127.0.0.1:0",
                            "--num-threads=1", env=probe_env())
    assert server.addresses("https")  # listen-https from the file still applies
    settings = settings_of(server)
    assert settings["interface"] == ["127.0.0.1"] and settings["log_level"] == 6
    reports = [line for line in server.log.splitlines() if "ignoring rtpengine options" in line]
    assert len(reports) == 1, server.log
    for name in ("table", "http-threads", "media-num-threads"):
        assert f"{name} (config file)" in reports[0]


def test_ignored_command_line_options_are_reported(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--table=-1", "--http-threads=4", "-F")
    assert ("ignoring rtpengine options that rtpgate does not implement: --table (command "
            "line), --http-threads (command line), --no-fallback (command line)") in server.log


@pytest.mark.parametrize(("args", "env", "ini", "expected"), [
    (["--port-min=abc"], {}, "", "invalid value 'abc' for --port-min (from command line)"),
    ([], {"RTPGATE_PORT_MIN": "abc"}, "",
     "invalid value 'abc' for --port-min (from environment RTPGATE_PORT_MIN)"),
    ([], {}, "port-min = abc\n", "invalid value 'abc' for --port-min (from config file"),
    (["--port-min=70000"], {}, "", "--port-min"),
    (["--port-min=5000", "--port-max=4000"], {}, "", "--port-min (5000) is above --port-max"),
    (["--log-level=9"], {}, "", "--log-level"),
    (["--listen-http=127.0.0.1:99999"], {}, "", "--listen-http"),
    (["--http-idle-timeout=-1"], {}, "", "--http-idle-timeout"),
    (["--no-such-option"], {}, "", "unrecognized arguments: --no-such-option"),
])
def test_bad_values_fail_before_listening_naming_the_option(
        tmp_path: Path, args: list[str], env: dict[str, str], ini: str, expected: str) -> None:
    port = free_port()
    conf = write_ini(tmp_path / "bad.conf", ini)
    result = run_rtpgate("-f", "-E", f"--config-file={conf}",
                         f"--ready-file={tmp_path / 'ready'}", *args,
                         *([] if any(a.startswith("--listen") for a in args)
                           else [f"--listen-http=127.0.0.1:{port}"]), env=env)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "listening" not in result.stderr and not (tmp_path / "ready").exists()


@pytest.mark.parametrize(("conf_text", "expected"), [
    (None, "cannot read config file"),
    ("[elsewhere]\nport-min = 1\n", "has no section [rtpengine]"),
    ("port-min = 1\n", "cannot parse config file"),
])
def test_bad_config_files(tmp_path: Path, conf_text: str | None, expected: str) -> None:
    conf = tmp_path / "rtpengine.conf"
    if conf_text is not None:
        conf.write_text(conf_text)
    result = run_rtpgate("-f", "-E", f"--config-file={conf}", "--listen-http=127.0.0.1:0")
    assert result.returncode == 2
    assert expected in result.stderr


def test_listener_defaults_apply_only_when_no_listener_is_given() -> None:
    runtime, _ = boot(["--config-file=none"], env={})
    assert runtime.settings.listen_http == ["127.0.0.1:8080"]  # type: ignore[attr-defined]
    assert runtime.settings.listen_https == []  # type: ignore[attr-defined]
    runtime, _ = boot(["--config-file=none", "--listen-https=127.0.0.1:8443",
                       "--https-cert=x"], env={})
    assert runtime.settings.listen_http == []  # type: ignore[attr-defined]
    runtime, _ = boot(["--config-file=none"], env={"RTPGATE_LISTEN_HTTPS": "127.0.0.1:8443"})
    assert runtime.settings.listen_http == []  # type: ignore[attr-defined]


def test_only_the_given_listeners_open(rtpgate_server: Callable[..., ServerProcess],
                                       tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    server = rtpgate_server("--listen-https=127.0.0.1:0", f"--https-cert={cert}",
                            f"--https-key={key}")
    assert [b["kind"] for b in server.listeners] == ["https"]


def test_default_listener_on_a_fresh_machine(rtpgate_server: Callable[..., ServerProcess]
                                             ) -> None:
    """No listener option at all: HTTP (and WS) on 127.0.0.1:8080."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8080))
        except OSError:
            pytest.skip("port 8080 is in use on this machine")
    server = rtpgate_server(listeners=())
    assert server.addresses("http") == [("127.0.0.1", 8080)]
    assert all(b["host"] == "127.0.0.1" for b in server.listeners)  # loopback only
    assert server.http("GET", "/ping")[2] == b"pong\n"
