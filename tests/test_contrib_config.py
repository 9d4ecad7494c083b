"""contrib/rtpengine.conf (every implemented option) and the systemd units' environment file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from e2e_helpers import REPO, run_rtpgate
from rtpgate.boot import boot
from rtpgate.docs import NOT_IN_CONFIG_FILE, installed_sample_config

SAMPLE = REPO / "contrib" / "rtpengine.conf"
ENV_FILE = REPO / "contrib" / "systemd" / "rtpgate.default"


def test_sample_config_is_current() -> None:
    assert SAMPLE.read_text() == installed_sample_config(), (
        "contrib/rtpengine.conf is out of date: run python -m rtpgate.docs docs")


def test_sample_config_names_every_option() -> None:
    runtime, _ = boot(["--config-file=none"], {})
    keys = set(re.findall(r"^# ([a-z0-9-]+) =", SAMPLE.read_text(), re.MULTILINE))
    wanted = {opt.name for opt in runtime.options
              if not opt.hidden and opt.name not in NOT_IN_CONFIG_FILE}
    assert keys == wanted


def test_sample_config_uncommented_loads_with_nothing_ignored(tmp_path: Path) -> None:
    """Every setting with a value, uncommented: the server's settings accept them all (``rtpgate
    plugins`` loads them as the server does) and none is reported as unknown."""
    text = re.sub(r"^# ([a-z0-9-]+ = \S.*)$", r"\1", SAMPLE.read_text(), flags=re.MULTILINE)
    conf = tmp_path / "rtpengine.conf"
    conf.write_text(text)
    result = run_rtpgate("plugins", f"--config-file={conf}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ignoring" not in result.stderr and "invalid" not in result.stderr
    check = subprocess.run(
        [sys.executable, "-c", "import sys; from rtpgate.config import load_settings;"
         "from rtpgate.boot import boot;"
         f"r, ignored = boot(['--config-file={conf}']); assert not ignored, ignored;"
         "print(r.settings.port_min, r.settings.timeout)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == ["30000", "60"]


def test_environment_file_variables_are_options(tmp_path: Path) -> None:
    """Each RTPGATE_* of the env file names an option, and all of them together load."""
    runtime, _ = boot(["--config-file=none"], {})
    names = {opt.env_name for opt in runtime.options}
    found = dict(re.findall(r"^# (RTPGATE_[A-Z0-9_]+)=(.*)$", ENV_FILE.read_text(), re.MULTILINE))
    assert len(found) >= 5
    assert set(found) <= names, set(found) - names
    result = run_rtpgate("plugins", "--config-file=none", env=found, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rtpgate-ng-plain 0.1.0 (ng-plain) [disabled]" in result.stdout  # the deny list
    assert "EnvironmentFile=-/etc/default/rtpgate" in (
        REPO / "contrib" / "systemd" / "rtpgate.service").read_text()
