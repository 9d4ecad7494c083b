"""Hooks are called through typed methods only (tox 4's plugin manager pattern): the plugin
host's (core/rtpgate/plugins.py) for core's hooks, and for a hook a plugin owns, the one typed
function in that plugin's ``hookspecs.py``.  Anywhere else, calling a hook by its name
(``pm.hook.rtpgate_...``, ``host.collect("rtpgate_...")``, ``host.run("rtpgate_...")``) fails
here, so a misspelt hook is a type error, never a runtime surprise."""

from __future__ import annotations

import ast
from pathlib import Path

from e2e_helpers import REPO

FIXTURE = Path(__file__).parent / "lint_fixtures" / "hooks_by_name.py"


def hooks_called_by_name(source: str) -> list[int]:
    """The lines of ``source`` that reach a hook by its name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if ((isinstance(node, ast.Attribute) and node.attr == "hook")  # pm.hook(.x)
                or (isinstance(node, ast.Call) and _calls_by_name(node))):
            found.append(node.lineno)
    return sorted(set(found))


def _calls_by_name(node: ast.Call) -> bool:
    """``host.collect("rtpgate_x", ...)``, ``host.run(...)``, ``host.notify(...)`` or
    ``getattr(something, "rtpgate_x")``."""
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in ("collect", "run", "notify"):
        names = node.args[:1]
    elif isinstance(func, ast.Name) and func.id == "getattr":
        names = node.args[1:2]
    else:
        return False
    return any(isinstance(arg, ast.Constant) and isinstance(arg.value, str)
               and arg.value.startswith("rtpgate_") for arg in names)


def allowed(path: Path) -> bool:
    relative = path.relative_to(REPO).as_posix()
    return relative == "core/rtpgate/plugins.py" or (
        relative.startswith("plugins/") and path.name == "hookspecs.py")


def code_files() -> list[Path]:
    roots = [REPO / "core", REPO / "contrib", *(p for p in (REPO / "plugins").glob("*/rtpgate_*")
                                                if p.is_dir())]
    return [path for root in roots for path in sorted(root.rglob("*.py"))
            if "tests" not in path.relative_to(REPO).parts]


def test_the_check_finds_hooks_called_by_name() -> None:
    assert hooks_called_by_name(FIXTURE.read_text()) == [7, 8, 9, 10]


def test_no_code_outside_the_facade_calls_a_hook_by_name() -> None:
    files = code_files()
    assert any(p.name == "engine.py" for p in files) and any("rtpgate_cli" in p.parts
                                                             for p in files)
    offenders = {str(p.relative_to(REPO)): lines for p in files if not allowed(p)
                 if (lines := hooks_called_by_name(p.read_text()))}
    assert offenders == {}
