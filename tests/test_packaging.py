"""Packaging metadata of every distribution in the repository, and what a built wheel holds."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from e2e_helpers import REPO

PROJECTS = sorted([REPO, *(p.parent for p in REPO.glob("plugins/*/pyproject.toml")),
                   REPO / "contrib" / "example-plugin"])


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_license_is_an_spdx_string_with_its_file(project: Path) -> None:
    """setuptools deprecates ``license = {text = ...}`` (an error after 2027-02-18)."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    build = meta["build-system"]["requires"]
    assert any(req.startswith("setuptools>=") and int(req.split(">=")[1].split(".")[0]) >= 77
               for req in build), build  # the first setuptools that reads SPDX strings
    assert meta["project"]["license"] == "GPL-3.0-or-later"
    assert meta["project"]["license-files"] == ["LICENSE"]
    assert (project / "LICENSE").read_text().startswith("                    GNU GENERAL PUBLIC")


def test_example_plugin_test_extra_can_run_its_tests() -> None:
    meta = tomllib.loads((REPO / "contrib" / "example-plugin" / "pyproject.toml").read_text())
    extra = " ".join(meta["project"]["optional-dependencies"]["test"])
    assert "pytest-asyncio" in extra and "pytest>=" in extra and "websockets" in extra


def test_core_wheel_carries_license_and_man_page(tmp_path: Path) -> None:
    """The wheel pip builds: SPDX metadata, the license file, and the man page where the systemd
    units' ``Documentation=file:///opt/rtpgate/venv/share/man/man8/rtpgate.8`` expects it."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(tmp_path), str(REPO)], check=True, timeout=300)
    wheel = next(tmp_path.glob("rtpgate-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        man = next(n for n in names if n.endswith(".data/data/share/man/man8/rtpgate.8"))
        assert zf.read(man) == (REPO / "docs" / "rtpgate.8").read_bytes()
    assert "License-Expression: GPL-3.0-or-later" in metadata
    assert "License-File: LICENSE" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
