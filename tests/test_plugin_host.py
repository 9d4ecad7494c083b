"""The plugin host end to end: ``rtpgate plugins``, broken plugins, allow/deny lists, and the
lifecycle, option and sub-command hooks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import fake_distribution, probe_env, run_rtpgate
from rtpgate.testing import ServerProcess, recv_until_closed


def test_plugins_lists_each_installed_plugin_and_what_it_provides() -> None:
    result = run_rtpgate("plugins")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("rtpgate 0.1.0 (rtpgate) [loaded]\n")
    for line in ("rtpgate-http 0.1.0 (http) [loaded]",
                 "    transport http: --listen-http, --listen-https",
                 "    option --http-idle-timeout",
                 "rtpgate-ws 0.1.0 (ws) [loaded]",
                 "    option --ws-max-message-size",
                 "rtpgate-echo 0.1.0 (echo) [loaded]",
                 "    protocol ping: GET /ping",
                 "    protocol echo: WebSocket echo.rtpengine.com"):
        assert line + "\n" in out


def test_import_failure_is_reported_and_the_rest_is_served(
        rtpgate_server: Callable[..., ServerProcess], plugin_site: Path) -> None:
    fake_distribution(plugin_site, "rtpgate-broken", "9.8.7", {"broken": "broken_probe"})
    env = probe_env(plugin_site)
    listing = run_rtpgate("plugins", env=env)
    assert listing.returncode == 0
    assert ("rtpgate-broken 9.8.7 (broken) [failed: ImportError: broken_probe cannot be "
            "imported (on purpose)]") in listing.stdout
    assert "rtpgate-echo 0.1.0 (echo) [loaded]" in listing.stdout

    server = rtpgate_server(env=env)
    assert server.http("GET", "/ping")[2] == b"pong\n"
    assert "plugin broken (rtpgate-broken 9.8.7) not loaded: ImportError" in server.log


def test_misspelt_hook_implementation_is_refused(
        rtpgate_server: Callable[..., ServerProcess], plugin_site: Path) -> None:
    fake_distribution(plugin_site, "rtpgate-misspelt", "1.0", {"misspelt": "misspelt_probe"})
    env = probe_env(plugin_site)
    listing = run_rtpgate("plugins", env=env)
    assert "rtpgate-misspelt 1.0 (misspelt) [failed: " in listing.stdout
    assert "rtpgate_protocol" in listing.stdout and "unknown hook" in listing.stdout
    server = rtpgate_server(env=env)
    assert "plugin misspelt (rtpgate-misspelt 1.0) not loaded" in server.log
    assert server.http("GET", "/ping")[0] == 200


def test_plugin_module_given_with_plugin_option_is_checked_too(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--plugin=misspelt_probe", "--plugin=broken_probe",
                            "--plugin=no_such_module", env=probe_env())
    for name in ("misspelt_probe", "broken_probe", "no_such_module"):
        assert f"plugin {name} ({name} (--plugin)) not loaded" in server.log
    assert server.http("GET", "/ping")[0] == 200


def test_contribution_hook_that_raises_is_reported(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--plugin=raising_probe", env=probe_env())
    assert server.http("GET", "/ping")[0] == 200
    listing = run_rtpgate("plugins", "--plugin=raising_probe", env=probe_env())
    assert ("raising_probe (--plugin) (raising_probe) [failed: RuntimeError: raising_probe "
            "refuses to contribute (on purpose)]") in listing.stdout


@pytest.mark.parametrize(("args", "env"), [
    (("--plugins-deny=echo",), {}),
    ((), {"RTPGATE_PLUGINS_DENY": "echo"}),
    (("--plugins-allow=http", "--plugins-allow=ws"), {}),
    ((), {"RTPGATE_PLUGINS_ALLOW": "http;ws"}),
    ((), {"RTPGATE_PLUGINS_ALLOW": "http,ws"}),
])
def test_allow_and_deny_lists(rtpgate_server: Callable[..., ServerProcess],
                              args: tuple[str, ...], env: dict[str, str]) -> None:
    listing = run_rtpgate("plugins", *args, env=env)
    assert "rtpgate-echo 0.1.0 (echo) [disabled]" in listing.stdout
    assert "rtpgate-http 0.1.0 (http) [loaded]" in listing.stdout
    server = rtpgate_server(*args, env=env)
    assert server.http("GET", "/ping")[:3:2] == (404, b"not found\n")


def test_command_line_overrides_the_environment_for_the_deny_list(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server("--plugins-deny=", env={"RTPGATE_PLUGINS_DENY": "echo"})
    assert server.http("GET", "/ping")[2] == b"pong\n"


def test_lifecycle_and_option_hooks(rtpgate_server: Callable[..., ServerProcess],
                                    tmp_path: Path) -> None:
    """``rtpgate_options`` adds ``--lifecycle-log``; ``rtpgate_startup`` runs once the listeners
    are bound; ``rtpgate_shutdown`` runs on SIGTERM; once in each process that serves (each
    worker, with several)."""
    log = tmp_path / "lifecycle.log"
    server = rtpgate_server("--plugin=lifecycle_probe", f"--lifecycle-log={log}",
                            env=probe_env())
    serving = server.serving_pids
    startups = sorted(f"startup {pid} 1" for pid in serving)
    assert sorted(log.read_text().splitlines()) == startups
    assert server.stop() == 0
    lines = log.read_text().splitlines()
    assert sorted(lines[:len(serving)]) == startups
    assert sorted(lines[len(serving):]) == sorted(f"shutdown {pid} 1" for pid in serving)


def test_plugin_options_come_from_the_environment_too(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    log = tmp_path / "lifecycle.log"
    rtpgate_server("--plugin=lifecycle_probe",
                   env={**probe_env(), "RTPGATE_LIFECYCLE_LOG": str(log)})
    assert log.read_text().startswith("startup ")


def test_subcommand_hook() -> None:
    result = run_rtpgate("hello", "world", "--plugin=subcommand_probe", env=probe_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("hello world --plugin=subcommand_probe (")
    assert run_rtpgate("hello", "fail", "--plugin=subcommand_probe",
                       env=probe_env()).returncode == 3


def test_unknown_subcommand_names_the_available_ones() -> None:
    result = run_rtpgate("frobnicate")
    assert result.returncode == 2
    assert "unknown sub-command 'frobnicate'" in result.stderr
    assert "plugins" in result.stderr and "options" in result.stderr


def test_transport_hook(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``rtpgate_transports`` adds a transport: it gets every protocol, binds, and is stopped."""
    server = rtpgate_server("--plugin=transport_probe", env=probe_env())
    with server.connect("greeting") as sock:
        greeting = recv_until_closed(sock)
    assert greeting.startswith(b"protocols: ") and b" echo " in greeting and b" ping" in greeting
    assert server.http("GET", "/ping")[2] == b"pong\n"
    assert server.stop() == 0
    assert "greeting transport stopped" in server.log
    listing = run_rtpgate("plugins", "--plugin=transport_probe", env=probe_env())
    assert "transport_probe (--plugin) (transport_probe) [loaded]\n    transport greeting\n" \
        in listing.stdout
