"""Every module of the core and of each plugin imports on its own, in a fresh interpreter: no
import cycle hides behind the order in which the package happens to import its modules."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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


def import_alone(name: str) -> str:
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                          text=True, timeout=120)
    return "" if done.returncode == 0 else f"{name}:\n{done.stderr.strip()}"


def test_every_module_imports_alone_in_a_fresh_interpreter() -> None:
    names = every_module()
    assert "rtpgate.engine.callrelay" in names and "rtpgate_ng.protocol" in names
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(import_alone, names) if f]
    assert not failures, "\n\n".join(failures)


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
