"""A typo in the plugin allow/deny lists, and a server left with nothing to listen on."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import run_rtpgate


@pytest.mark.parametrize(("args", "env", "kind", "name"), [
    (("--plugins-allow=htp",), {}, "allow", "htp"),
    (("--plugins-allow=http;ws;nosuch",), {}, "allow", "nosuch"),
    (("--plugins-deny=ehco",), {}, "deny", "ehco"),
    ((), {"RTPGATE_PLUGINS_DENY": "metric"}, "deny", "metric"),
])
def test_unknown_plugin_name_is_an_error(args: tuple[str, ...], env: dict[str, str], kind: str,
                                         name: str, tmp_path: Path) -> None:
    for command in (("-f", "-E", "--listen-http=127.0.0.1:0"), ("plugins",)):
        result = run_rtpgate(*command, "--config-file=none", *args, env=env, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert f"rtpgate: --plugins-{kind}: no installed plugin is named {name!r} " \
            "(installed: " in result.stderr
        assert "http" in result.stderr.split("installed: ")[1]


def test_server_without_any_listener_refuses_to_start(tmp_path: Path) -> None:
    """Only protocols allowed, no transport: nothing could reach it."""
    result = run_rtpgate("-f", "-E", "--config-file=none", "--plugins-allow=echo;ng",
                         cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot start: no listener is open, nothing could reach this server (transports " \
        "loaded: none)" in result.stderr


def test_daemon_without_any_listener_fails_visibly(tmp_path: Path) -> None:
    result = run_rtpgate("--config-file=none", "--plugins-deny=http;udp", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("rtpgate: cannot start: no listener is open")
