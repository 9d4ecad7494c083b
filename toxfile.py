"""tox's in-tree plugin: make every supported Python that pyenv has visible to tox.

pyenv's shims (``python3.12``, ...) answer only for the versions ``PYENV_VERSION`` (or pyenv's
global version file) names, so on a pyenv machine tox would not find 3.12 and 3.13 although they
are installed.  Before tox looks for interpreters, this adds every installed CPython 3.11+ to
``PYENV_VERSION`` (after whatever it already named), which tox passes on to the environments
(``pass_env``).  tox.ini sets ``skip_missing_interpreters = false``: a supported interpreter
that is still missing fails the run instead of being reported as skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from tox.plugin import impl

#: The CPython versions the py3{11,12,13}-* environments test on (and newer ones).
SUPPORTED = re.compile(r"3\.(1[1-9]|[2-9]\d)\.\d+")


def _pyenv(pyenv: str, *args: str) -> str:
    result = subprocess.run([pyenv, *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def pyenv_version() -> str | None:
    """``PYENV_VERSION`` naming the current version(s) first, then every installed 3.11+."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    current = os.environ.get("PYENV_VERSION") or _pyenv(pyenv, "version-name")
    names = [name for name in current.split(":") if name]
    names += [name for name in _pyenv(pyenv, "versions", "--bare").split()
              if SUPPORTED.fullmatch(name) and name not in names]
    return ":".join(names) or None


@impl
def tox_add_core_config(core_conf: object, state: object) -> None:
    version = pyenv_version()
    if version and version != os.environ.get("PYENV_VERSION"):
        os.environ["PYENV_VERSION"] = version
        print(f"toxfile.py: PYENV_VERSION={version}", file=sys.stderr)
