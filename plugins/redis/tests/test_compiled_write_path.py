"""The modules the plugin's setup.py compiles with mypyc (by default; RTPGATE_MYPYC=0 leaves
them pure): each is imported from its extension module where the plugin was installed as a
user installs it, so that the redis tests exercise the write path a user runs, and from its
source where the environment asked for pure Python (``tox -e plugins-all``) or the install is
editable (compiled modules would shadow the edited sources).  RTPGATE_EXPECT_COMPILED, where an
environment sets it, says which to expect."""

from __future__ import annotations

import ast
import importlib
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

SETUP = Path(__file__).resolve().parent.parent / "setup.py"


def compiled_modules() -> list[str]:
    """The dotted names of setup.py's ``COMPILED`` list (read without running setup.py)."""
    for node in ast.parse(SETUP.read_text()).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in targets):
                assert node.value is not None
                paths: list[str] = ast.literal_eval(node.value)
                break
    else:
        raise AssertionError("setup.py has no COMPILED list")
    for path in paths:
        assert (SETUP.parent / path).is_file(), path
    return [path.removesuffix(".py").replace("/", ".") for path in paths]


def expect_compiled(origin: Path) -> bool:
    said = os.environ.get("RTPGATE_EXPECT_COMPILED")
    if said is not None:
        return said == "1"
    if origin.is_relative_to(SETUP.parent):  # editable: pure unless RTPGATE_MYPYC=1 asked
        return os.environ.get("RTPGATE_MYPYC") == "1"
    return os.environ.get("RTPGATE_MYPYC") != "0"


@pytest.mark.parametrize("name", compiled_modules())
def test_listed_module_is_compiled_where_expected(name: str) -> None:
    origin = Path(str(importlib.import_module(name).__file__)).resolve()
    compiled = any(origin.name.endswith(suffix) for suffix in EXTENSION_SUFFIXES)
    expected = expect_compiled(origin)
    assert compiled == expected, (f"{name} imported from {origin}, expected "
                                  f"{'its compiled module' if expected else 'its source'}")
