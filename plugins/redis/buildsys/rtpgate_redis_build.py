"""The plugin's build backend: setuptools, plus mypy for the mypyc compilation of the write
path (setup.py names its modules).

Unlike the core, the plugin compiles by default: its three modules take seconds to build and
are what every write of a call runs (``RTPGATE_MYPYC=0`` installs it as pure Python).  An
editable install and a source distribution stay pure unless ``RTPGATE_MYPYC=1`` asks: a
compiled module next to its source would shadow every edit, and an sdist carries sources only.
The core's ``buildsys/rtpgate_build.py`` is the same idea with the opposite default; a backend
must lie inside the distribution it builds, hence this copy of its few lines.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 - every hook of setuptools' backend

_MYPY = ["mypy>=1.10"]
T = TypeVar("T")


def _compiling() -> bool:
    return os.environ.get("RTPGATE_MYPYC", "1") == "1"


@contextmanager
def _pure_unless_asked() -> Iterator[None]:
    """``RTPGATE_MYPYC=0`` for setup.py while a hook runs, unless the environment set it."""
    if "RTPGATE_MYPYC" in os.environ:
        yield
        return
    os.environ["RTPGATE_MYPYC"] = "0"
    try:
        yield
    finally:
        del os.environ["RTPGATE_MYPYC"]


def _pure(hook: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(hook)
    def run(*args: object, **kwargs: object) -> T:
        with _pure_unless_asked():
            return hook(*args, **kwargs)

    return run


def get_requires_for_build_wheel(config_settings: dict[str, object] | None = None) -> list[str]:
    # setuptools' own answer runs setup.py, which imports mypyc: not installed yet
    return _MYPY if _compiling() else build_meta.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_editable(config_settings: dict[str, object] | None = None
                                    ) -> list[str]:
    with _pure_unless_asked():
        return (_MYPY if _compiling()
                else build_meta.get_requires_for_build_editable(config_settings))


prepare_metadata_for_build_editable = _pure(build_meta.prepare_metadata_for_build_editable)
build_editable = _pure(build_meta.build_editable)
get_requires_for_build_sdist = _pure(build_meta.get_requires_for_build_sdist)
build_sdist = _pure(build_meta.build_sdist)
