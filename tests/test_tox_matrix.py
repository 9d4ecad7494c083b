"""The README's test command (plain ``tox``) tests every supported Python or fails loudly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import REPO

SUPPORTED = ("py311", "py312", "py313")


def tox(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """A tox of its own: none of the TOX_* settings of a tox this test may run under."""
    env = {k: v for k, v in env.items() if not k.startswith("TOX_")}
    return subprocess.run([sys.executable, "-m", "tox", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_tox_ini_requires_every_supported_interpreter() -> None:
    ini = (REPO / "tox.ini").read_text()
    assert re.search(r"^skip_missing_interpreters = false$", ini, re.MULTILINE)
    assert "py3{11,12,13}-" in ini


def test_plain_tox_finds_every_pyenv_python() -> None:
    """No ``PYENV_VERSION`` from the caller (the README's command sets none): toxfile.py makes
    pyenv's 3.12 and 3.13 visible, as .ci/run relies on."""
    if shutil.which("pyenv") is None:
        pytest.skip("pyenv is not installed here: tox finds interpreters on PATH")
    env = {k: v for k, v in os.environ.items() if k != "PYENV_VERSION"}
    names = ",".join(f"{py}-echo" for py in SUPPORTED)
    result = tox("config", "-e", names, "-k", "env_python", env=env)
    assert result.returncode == 0, result.stderr
    pythons = re.findall(r"^env_python = (.*)$", result.stdout, re.MULTILINE)
    assert len(pythons) == 3 and all(p.endswith("/bin/python") for p in pythons), result.stdout


def test_a_missing_interpreter_fails_the_run(tmp_path: Path) -> None:
    """A PATH with only this Python and no pyenv: ``py313-*`` (or whichever supported one this
    is not) is an error, not a SKIP with exit status 0."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    current = f"py3{sys.version_info.minor}"
    (bin_dir / f"python3.{sys.version_info.minor}").symlink_to(sys.executable)
    missing = next(py for py in SUPPORTED if py != current)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYENV")}
    env["PATH"] = str(bin_dir)
    result = tox("run", "-e", f"{missing}-echo", "--workdir", str(tmp_path / "work"), env=env)
    assert result.returncode != 0, result.stdout
    assert "SKIP" not in result.stdout
    output = result.stdout + result.stderr
    assert re.search(r"(could not|failed to) find (python )?interpreter", output)


def test_readme_names_every_default_listener() -> None:
    """The README's first command runs a default server: it says which ports that opens."""
    from rtpgate.boot import boot

    runtime, _ = boot(["--config-file=none"], {})
    intro = (REPO / "README.md").read_text().split("```sh")[0]
    defaults = [(opt.name, address) for opt in runtime.options for address in
                opt.listener_default]
    assert len(defaults) >= 3
    for name, address in defaults:
        assert address in intro, f"README does not say that --{name} opens {address} by default"
