"""Compiles the core's hot modules with mypyc when ``RTPGATE_MYPYC=1`` at build time
(docs/performance.md, "Compiled modules"); otherwise the core installs as pure Python.

Everything else about the distribution is in pyproject.toml.  The compiled modules behave as
the pure-Python ones do (the same tests run against both: ``tox -e compiled``); a module is in
the list when mypyc accepts it as it is and a cycle spends measurable time in it.
"""

from __future__ import annotations

import os

from setuptools import setup

#: The modules compiled with RTPGATE_MYPYC=1, relative to this file.
COMPILED = [
    "core/rtpgate/engine/sdp.py",
    "core/rtpgate/engine/rewrite.py",
    "core/rtpgate/engine/negotiate.py",
    "core/rtpgate/engine/params.py",
    "core/rtpgate/engine/codecs.py",
]


def ext_modules() -> list[object]:
    setting = os.environ.get("RTPGATE_MYPYC", "0")
    if setting == "0":
        return []
    if setting != "1":
        raise SystemExit(f"RTPGATE_MYPYC must be 0 or 1, not {setting!r}")
    from mypyc.build import mypycify  # only needed, and only asked for, when compiling

    # the build environment holds no runtime dependency, so their types are Any there and the
    # ignores that `tox -e type` needs would be reported as unused
    return list(mypycify(["--no-warn-unused-ignores", *COMPILED], opt_level="3",
                         group_name="rtpgate"))


setup(ext_modules=ext_modules())
