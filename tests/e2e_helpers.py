"""Helpers for the end-to-end tests (everything installed).

Test plugins live in ``test_plugins_src/``.  They reach the server either with ``--plugin MODULE``
or as real entry points: :func:`fake_distribution` writes a ``*.dist-info`` folder with an
``entry_points.txt`` next to them, which ``importlib.metadata`` finds on ``PYTHONPATH`` exactly as
it finds an installed distribution.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent
PLUGIN_SRC = HERE / "test_plugins_src"
DATA = HERE / "data"


def _shared() -> Path:
    """The team's reference material (rtpengine transcripts, conformance corpus, tools):
    ``$RTPGATE_SHARED``, else ``shared/`` beside this checkout.  It is external: a test that
    needs it skips, saying so, where it is missing (:func:`shared_file`)."""
    if os.environ.get("RTPGATE_SHARED"):
        return Path(os.environ["RTPGATE_SHARED"])
    return REPO.parent / "shared"


#: Read only: tests and benchmarks may use it, the product never does.
SHARED = _shared()


def shared_file(relative: str) -> Path:
    """``SHARED / relative``; the calling test is skipped, with the reason, if it is missing."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"external reference material missing: {path} (set RTPGATE_SHARED to the "
                    f"shared folder)")
    return path


def fake_distribution(site: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """Make ``site`` hold distribution ``name`` publishing ``entry_points`` (entry-point name ->
    module) in the ``rtpgate`` group."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[rtpgate]", *(f"{ep} = {module}" for ep, module in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    return site


def probe_env(site: Path | None = None) -> dict[str, str]:
    """``PYTHONPATH`` with the test plugins (and ``site``'s fake distributions)."""
    paths = [str(site)] if site else []
    return {"PYTHONPATH": os.pathsep.join([*paths, str(PLUGIN_SRC)])}


def run_rtpgate(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rtpgate ARGS`` to completion (sub-commands, failing starts)."""
    return subprocess.run([sys.executable, "-m", "rtpgate", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd,
                          timeout=timeout)


class ScratchVenv:
    """A virtual environment made by the test, to install and uninstall distributions in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        self.python = str(path / "bin" / "python")

    def pip(self, *args: str) -> None:
        subprocess.run([self.python, "-m", "pip", "--quiet", "--disable-pip-version-check",
                        *args], check=True, timeout=600)

    def install(self, *directories: Path) -> None:
        self.pip("install", *map(str, directories))

    def uninstall(self, *distributions: str) -> None:
        self.pip("uninstall", "--yes", *distributions)

    def rtpgate(self, *args: str, env: dict[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.python, "-m", "rtpgate", *args], capture_output=True,
                              text=True, env={**os.environ, **(env or {})}, timeout=60)


@pytest.fixture(scope="session")
def scratch_venv(tmp_path_factory: pytest.TempPathFactory) -> ScratchVenv:
    """A venv with core, http, ws and echo installed from this checkout (not editable)."""
    venv = ScratchVenv(tmp_path_factory.mktemp("scratch") / "venv")
    venv.install(REPO, *(REPO / "plugins" / name for name in ("http", "ws", "echo")))
    return venv
