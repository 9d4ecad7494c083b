"""The modules setup.py compiles with mypyc (RTPGATE_MYPYC=1): they exist and pass mypy alone,
and where the environment says it installed them compiled (``tox -e compiled`` sets
RTPGATE_EXPECT_COMPILED=1) each of them is imported from its extension module, so that
environment's tests really run the compiled code."""

from __future__ import annotations

import ast
import importlib
import os
from importlib.machinery import EXTENSION_SUFFIXES

import pytest
from e2e_helpers import REPO


def compiled_modules() -> list[str]:
    """The dotted names of setup.py's ``COMPILED`` list (read without running setup.py)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in targets):
                assert node.value is not None
                paths = ast.literal_eval(node.value)
                break
    else:
        raise AssertionError("setup.py has no COMPILED list")
    names = []
    for path in paths:
        assert (REPO / path).is_file(), path
        assert path.startswith("core/") and path.endswith(".py"), path
        names.append(path.removeprefix("core/").removesuffix(".py").replace("/", "."))
    return names


@pytest.mark.parametrize("name", compiled_modules())
def test_listed_module_is_compiled_where_expected(name: str) -> None:
    module = importlib.import_module(name)
    origin = str(module.__file__)
    compiled = any(origin.endswith(suffix) for suffix in EXTENSION_SUFFIXES)
    if os.environ.get("RTPGATE_EXPECT_COMPILED") == "1":
        assert compiled, f"{name} imported from {origin}, not its compiled module"
    else:
        # a development install stays pure Python, so edits to the sources take effect
        assert not compiled or os.environ.get("RTPGATE_MYPYC") == "1", origin
