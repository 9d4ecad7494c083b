"""The core's build backend: setuptools, plus mypy when ``RTPGATE_MYPYC=1`` asks for the hot
modules to be compiled with mypyc (setup.py names them).

pip builds in an isolated environment holding only what the backend asks for; this asks for
mypy (which ships mypyc) only when it will be used, so an ordinary install needs no compiler.
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
