"""Every module of the core and of each plugin imports on its own, in a fresh interpreter: no
import cycle hides behind the order in which the package happens to import its modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from e2e_helpers import REPO

#: Run as a program, not imported (``python -m rtpgate``).
SCRIPTS = {"rtpgate.__main__"}


def modules(root: Path, package: str) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in SCRIPTS:
            found.append(name)
    return found


def every_module() -> list[str]:
    names = modules(REPO / "core", "rtpgate")
    for plugin in sorted((REPO / "plugins").glob("*/rtpgate_*/__init__.py")):
        names += modules(plugin.parent.parent, plugin.parent.name)
    return names


#: Imports each module named on stdin (one JSON list) alone, in a child forked from an
#: interpreter that has loaded only what is not rtpgate's (the standard library and the
#: third-party packages the modules use, found by importing them all once in another
#: interpreter): no module of rtpgate or a plugin is loaded before the one imported, which is
#: what a fresh interpreter gave, without paying an interpreter's start and pydantic's,
#: Tornado's... imports 185 times.  Prints one JSON object: module -> its traceback, if any.
FORKING_IMPORTER = r"""
import importlib, json, os, sys, traceback
names, others = json.load(sys.stdin)
for other in others:
    try:
        importlib.import_module(other)
    except Exception:
        pass  # a module the others import only under conditions: the child imports it then
assert not [m for m in sys.modules if m.split(".")[0] in {n.split(".")[0] for n in names}]
failures = {}
for name in names:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            status = 0
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            status = 1
        os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read().decode(errors="replace")
    if os.waitpid(pid, 0)[1] != 0:
        failures[name] = output or "the child died"
print(json.dumps(failures))
"""


def not_ours(names: list[str]) -> list[str]:
    """The modules besides rtpgate's and the plugins' that importing every one of them loads."""
    code = ("import importlib, json, sys\n"
            f"names = {names!r}\n"
            "tops = {n.split('.')[0] for n in names}\n"
            "for name in names: importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] not in tops)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300)
    others: list[str] = json.loads(done.stdout)
    return others


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = every_module()
    assert "rtpgate.engine.callrelay" in names and "rtpgate_ng.protocol" in names
    done = subprocess.run([sys.executable, "-c", FORKING_IMPORTER],
                          input=json.dumps([names, not_ours(names)]), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    failures = json.loads(done.stdout)
    assert not failures, "\n\n".join(f"{name}:\n{text}" for name, text in failures.items())


def test_media_imports_nothing_above_it() -> None:
    """The relay is below the engine: importing every module of ``rtpgate.media`` loads
    nothing of rtpgate but the media package and the counters."""
    media = [name for name in every_module() if name.startswith("rtpgate.media")]
    code = (f"import sys; import {', '.join(media)}; "
            "print(sorted(m for m in sys.modules if m.startswith('rtpgate.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    loaded = eval(done.stdout)
    assert [m for m in loaded if not m.startswith(("rtpgate.media", "rtpgate.counters"))] == []
