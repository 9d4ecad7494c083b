"""The modules the plugin's setup.py compiles with mypyc (RTPGATE_MYPYC=1): where the
environment says it installed them compiled (``tox -e compiled`` sets RTPGATE_EXPECT_COMPILED=1)
each is imported from its extension module, so that the redis tests run there exercise the
compiled write path."""

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


@pytest.mark.parametrize("name", compiled_modules())
def test_listed_module_is_compiled_where_expected(name: str) -> None:
    origin = str(importlib.import_module(name).__file__)
    compiled = any(origin.endswith(suffix) for suffix in EXTENSION_SUFFIXES)
    if os.environ.get("RTPGATE_EXPECT_COMPILED") == "1":
        assert compiled, f"{name} imported from {origin}, not its compiled module"
    else:
        # a development install stays pure Python, so edits to the sources take effect
        assert not compiled or os.environ.get("RTPGATE_MYPYC") == "1", origin
