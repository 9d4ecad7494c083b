"""Compiles the plugin's write path with mypyc when ``RTPGATE_MYPYC=1`` at build time, as the
core's setup.py does for the core (docs/performance.md, "Redis"); otherwise the plugin installs
as pure Python.  Everything else about the distribution is in pyproject.toml.

The compiled modules serialise a call to rtpengine's shape and encode it, on every write
(about twice as fast compiled).  rtpgate itself is not in the isolated build environment, so
its types are ``Any`` to mypyc here.
"""

from __future__ import annotations

import os

from setuptools import setup

#: The modules compiled with RTPGATE_MYPYC=1, relative to this file.
COMPILED = [
    "rtpgate_redis/blob.py",
    "rtpgate_redis/shape.py",
    "rtpgate_redis/flags.py",
]


def ext_modules() -> list[object]:
    setting = os.environ.get("RTPGATE_MYPYC", "0")
    if setting == "0":
        return []
    if setting != "1":
        raise SystemExit(f"RTPGATE_MYPYC must be 0 or 1, not {setting!r}")
    from mypyc.build import mypycify  # only needed, and only asked for, when compiling

    return list(mypycify(["--no-warn-unused-ignores", "--ignore-missing-imports", *COMPILED],
                         opt_level="3", group_name="rtpgate_redis"))


setup(ext_modules=ext_modules())
