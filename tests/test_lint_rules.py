"""The lint rule that keeps plugins on the public API (``TID251`` banned-api, pyproject.toml and
the transports' ruff.toml): shown failing on deliberate violations (``lint_fixtures/``) linted
as if they were files of a plugin, and complete (every core module but the public ones banned)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from e2e_helpers import REPO

FIXTURES = Path(__file__).parent / "lint_fixtures"
PUBLIC = {"rtpgate", "rtpgate.api", "rtpgate.testing"}
TRANSPORTS = ("http", "ws", "udp")


def banned(fixture: str, as_path: str) -> set[str]:
    """The banned names ruff reports for ``fixture`` linted as the file ``as_path`` of the
    repository (so the configuration that applies there is used)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         "--select", "TID251", "--stdin-filename", as_path, "-"],
        input=(FIXTURES / fixture).read_text(), capture_output=True, text=True, cwd=REPO,
        timeout=120)
    names = set(re.findall(r"TID251 `([\w.]+)` is banned", done.stdout))
    assert (done.returncode == 1) == bool(names), done.stdout + done.stderr
    return names


@pytest.mark.parametrize("path", ["plugins/echo/rtpgate_echo/violation.py",
                                  "plugins/ng/tests/test_violation.py",
                                  "plugins/some-new-plugin/rtpgate_new/violation.py",
                                  "contrib/example-plugin/rtpgate_example/violation.py"])
def test_a_protocol_plugin_importing_a_core_internal_or_tornado_fails(path: str) -> None:
    assert banned("plugin_violations.py", path) == {"tornado", "rtpgate.engine",
                                                     "rtpgate.runtime"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_transport_may_import_tornado_but_no_core_internal(transport: str) -> None:
    path = f"plugins/{transport}/rtpgate_{transport}/violation.py"
    assert banned("plugin_violations.py", path) == {"rtpgate.engine", "rtpgate.runtime"}


@pytest.mark.parametrize("path", ["plugins/echo/rtpgate_echo/clean.py",
                                  "plugins/http/rtpgate_http/clean.py"])
def test_the_public_api_is_allowed(path: str) -> None:
    assert banned("plugin_clean.py", path) == set()


def test_core_and_its_tests_may_import_anything() -> None:
    assert banned("plugin_violations.py", "core/rtpgate/violation.py") == set()
    assert banned("plugin_violations.py", "tests/test_violation.py") == set()


def core_modules() -> set[str]:
    """The core's top-level modules and packages (``rtpgate.<name>``)."""
    root = REPO / "core" / "rtpgate"
    names = {f"rtpgate.{p.stem}" for p in root.glob("*.py") if p.stem != "__init__"}
    names |= {f"rtpgate.{p.parent.name}" for p in root.glob("*/__init__.py")}
    return names


@pytest.mark.parametrize("config", ["pyproject.toml",
                                    *(f"plugins/{t}/ruff.toml" for t in TRANSPORTS)])
def test_every_core_module_but_the_public_ones_is_banned(config: str) -> None:
    data = tomllib.loads((REPO / config).read_text())
    lint = data["tool"]["ruff"]["lint"] if config == "pyproject.toml" else data["lint"]
    listed = set(lint["flake8-tidy-imports"]["banned-api"])
    assert core_modules() - PUBLIC == {m for m in listed if m.startswith("rtpgate.")}
    assert ("tornado" in listed) == (config == "pyproject.toml")
