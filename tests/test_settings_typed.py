"""Settings are read one typed way: through a view (``settings.view(SomeSettings)``, a
:class:`rtpgate.api.SettingsView` declaring the fields with their types) or, for a field only
the running code can name, ``settings.named(name)``.  No ``getattr`` on settings, no
``settings: Any``, no ``# type: ignore[attr-defined]`` in the code of core or any plugin."""

from __future__ import annotations

import re
from pathlib import Path

from e2e_helpers import REPO

UNTYPED = re.compile(r"type: ignore\[attr-defined\]|settings: Any|getattr\([\w.]*settings\b"
                     r"|hasattr\([\w.]*settings\b")


def untyped_reads(text: str) -> list[int]:
    return [number for number, line in enumerate(text.splitlines(), 1) if UNTYPED.search(line)]


def code_files() -> list[Path]:
    roots = [REPO / "core", *(p for p in (REPO / "plugins").glob("*/rtpgate_*") if p.is_dir())]
    return [path for root in roots for path in sorted(root.rglob("*.py"))]


def test_the_check_finds_untyped_reads() -> None:
    text = ("settings: Any = runtime.settings\nx = getattr(runtime.settings, 'a', 0)\n"
            "y = settings.b  # type: ignore[attr-defined]\nz = settings.view(Core).c\n")
    assert untyped_reads(text) == [1, 2, 3]


def test_core_and_plugins_read_settings_one_typed_way() -> None:
    files = code_files()
    assert any(p.name == "engine.py" for p in files) and any("rtpgate_redis" in p.parts
                                                             for p in files)
    found = {str(p.relative_to(REPO)): lines for p in files
             if (lines := untyped_reads(p.read_text()))}
    assert found == {}
