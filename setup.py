"""Compiles the core's hot modules with mypyc when ``RTPGATE_MYPYC=1`` at build time
(docs/performance.md, "Compiled modules"); otherwise the core installs as pure Python.

Builds the relay's native read loop (``rtpgate.media._fastrelay``, C, see
rtpgate/media/native.py) with the machine's compiler unless ``RTPGATE_NATIVE=0``; it is
optional: if it does not compile, the install goes on and the relay runs in Python.

Everything else about the distribution is in pyproject.toml.  The compiled modules behave as
the pure-Python ones do (the same tests run against both: ``tox -e compiled``); a module is in
the list when mypyc accepts it as it is and a cycle spends measurable time in it.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

#: The modules compiled with RTPGATE_MYPYC=1, relative to this file.
COMPILED = [
    "core/rtpgate/engine/sdp.py",
    "core/rtpgate/engine/rewrite.py",
    "core/rtpgate/engine/negotiate.py",
    "core/rtpgate/engine/params.py",
    "core/rtpgate/engine/codecs.py",
]


def native() -> list[Extension]:
    """The relay's C read loop, unless ``RTPGATE_NATIVE=0``."""
    setting = os.environ.get("RTPGATE_NATIVE", "1")
    if setting not in ("0", "1"):
        raise SystemExit(f"RTPGATE_NATIVE must be 0 or 1, not {setting!r}")
    if setting == "0":
        return []
    return [Extension("rtpgate.media._fastrelay", ["core/rtpgate/media/_fastrelay.c"],
                      extra_compile_args=["-O2", "-Wall"], optional=True)]


def ext_modules() -> list[object]:
    setting = os.environ.get("RTPGATE_MYPYC", "0")
    if setting == "0":
        return [*native()]
    if setting != "1":
        raise SystemExit(f"RTPGATE_MYPYC must be 0 or 1, not {setting!r}")
    from mypyc.build import mypycify  # only needed, and only asked for, when compiling

    # the build environment holds no runtime dependency, so their types are Any there and the
    # ignores that `tox -e type` needs would be reported as unused
    return [*mypycify(["--no-warn-unused-ignores", *COMPILED], opt_level="3",
                      group_name="rtpgate"), *native()]


setup(ext_modules=ext_modules())
