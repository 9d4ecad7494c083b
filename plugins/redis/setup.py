"""Compiles the plugin's write path with mypyc unless ``RTPGATE_MYPYC=0`` at build time (the
build backend, ``buildsys/``, sets that for editable installs and sdists; docs/performance.md,
"Redis").  Everything else about the distribution is in pyproject.toml.

The compiled modules serialise a call to rtpengine's shape and encode it, on every write
(about 30 % less CPU compiled).  rtpgate itself is not in the isolated build environment, so
its types are ``Any`` to mypyc here.  Compiled by default, they are optional, as the core's C
read loop is: where they do not build (no C compiler) the plugin installs as pure Python;
``RTPGATE_MYPYC=1`` makes a failed compilation fail the install.
"""

from __future__ import annotations

import os

from setuptools import setup

#: The modules compiled (unless RTPGATE_MYPYC=0), relative to this file.
COMPILED = [
    "rtpgate_redis/blob.py",
    "rtpgate_redis/shape.py",
    "rtpgate_redis/flags.py",
]


def ext_modules() -> list[object]:
    setting = os.environ.get("RTPGATE_MYPYC")
    if setting == "0":
        return []
    if setting not in (None, "1"):
        raise SystemExit(f"RTPGATE_MYPYC must be 0 or 1, not {setting!r}")
    from mypyc.build import mypycify  # only needed, and only asked for, when compiling

    extensions = list(mypycify(["--no-warn-unused-ignores", "--ignore-missing-imports",
                                *COMPILED], opt_level="3", group_name="rtpgate_redis"))
    for extension in extensions:
        extension.optional = setting is None
    return extensions


setup(ext_modules=ext_modules())
