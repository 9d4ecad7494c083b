"""The plugin's build backend: setuptools, plus mypy when ``RTPGATE_MYPYC=1`` asks for its hot
modules to be compiled with mypyc (setup.py names them).  The core's ``buildsys/rtpgate_build.py``
does the same for the core; a backend must lie inside the distribution it builds, hence this
copy of its few lines.
"""

from __future__ import annotations

import os

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 - every hook of setuptools' backend

_MYPY = ["mypy>=1.10"]


def _compiling() -> bool:
    return os.environ.get("RTPGATE_MYPYC", "0") == "1"


def get_requires_for_build_wheel(config_settings: dict[str, object] | None = None) -> list[str]:
    # setuptools' own answer runs setup.py, which imports mypyc: not installed yet
    return _MYPY if _compiling() else build_meta.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_editable(config_settings: dict[str, object] | None = None
                                    ) -> list[str]:
    return _MYPY if _compiling() else build_meta.get_requires_for_build_editable(config_settings)
