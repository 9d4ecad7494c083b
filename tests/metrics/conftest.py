"""Fixtures of the /metrics end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).parent


def probe_env() -> dict[str, str]:
    """``PYTHONPATH`` with this directory's test plugin and the core test plugins."""
    paths = [str(HERE), str(HERE.parent / "test_plugins_src"), os.environ.get("PYTHONPATH")]
    return {"PYTHONPATH": os.pathsep.join(filter(None, paths))}
