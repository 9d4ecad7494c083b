"""Nothing in core names a plugin: no distribution or import name of any plugin of this
repository appears in core's code (installing or removing a plugin is all it takes)."""

from __future__ import annotations

import re
import tomllib

from e2e_helpers import REPO


def plugin_names() -> set[str]:
    names = set()
    for project in REPO.glob("plugins/*/pyproject.toml"):
        name = tomllib.loads(project.read_text())["project"]["name"]
        names |= {name, name.replace("-", "_")}
    return names


def test_core_names_no_plugin() -> None:
    names = plugin_names()
    assert "rtpgate-udp" in names and "rtpgate_metrics" in names
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in sorted((REPO / "core").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line)]
    assert found == []


def test_core_carries_no_prometheus_series() -> None:
    """The metrics plugin's Prometheus families (``rtpengine_*``, ``rtpgate_*`` series, their
    types and help texts) are built in the plugin from core's plain counters; core imports no
    Prometheus client and names no series."""
    series = re.compile(r"""(rtpengine|rtpgate)_\{|["']rtpengine_|prometheus_client"""
                        r"""|["'](gauge|counter)["']""")
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for path in sorted((REPO / "core").rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if series.search(line)]
    assert found == []
