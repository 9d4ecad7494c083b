"""The generated reference pages match the code, and every hook is documented and tested
(in the manner of datasette's ``test_plugin_hooks_have_tests``)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import REPO
from rtpgate.boot import load_plugins
from rtpgate.docs import hook_functions, installed_pages

#: Every hook: core's and those the installed plugins add (rtpgate_addhooks).
SPECS = {func.__name__: func for module in load_plugins([], {}).hookspec_modules
         for func in hook_functions(module)}
HOOKS = sorted(SPECS)
#: Test sources: the end-to-end tests, their test plugins, and every plugin's own tests.
TEST_SOURCES = sorted({*(REPO / "tests").rglob("*.py"), *REPO.glob("plugins/*/tests/**/*.py")}
                      - {Path(__file__)})


def test_hookspecs_were_found() -> None:
    assert {"rtpgate_options", "rtpgate_protocols", "rtpgate_transports", "rtpgate_startup",
            "rtpgate_shutdown", "rtpgate_subcommands", "rtpgate_addhooks",
            "rtpgate_cli_commands", "rtpgate_metrics_collectors"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    doc = inspect.getdoc(SPECS[hook]) or ""
    assert len(doc.split()) >= 10, f"hookspec {hook} needs a docstring that documents it"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    users = [path for path in TEST_SOURCES if hook in path.read_text(encoding="utf-8")]
    assert users, f"no test (nor test plugin) under tests/ or plugins/*/tests/ uses {hook}"


@pytest.mark.parametrize(("name", "text"), sorted(installed_pages().items()))
def test_generated_page_is_current(name: str, text: str) -> None:
    page = REPO / "docs" / name
    assert page.read_text(encoding="utf-8") == text, (
        f"docs/{name} is out of date: run python -m rtpgate.docs docs")


def test_docs_check_command(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "rtpgate.docs"]
    assert subprocess.run([*run, "--check", str(REPO / "docs")]).returncode == 0
    stale = subprocess.run([*run, "--check", str(tmp_path)], capture_output=True, text=True)
    assert stale.returncode == 1 and "hooks.md: out of date" in stale.stderr
    assert subprocess.run([*run, str(tmp_path)], capture_output=True).returncode == 0
    assert (tmp_path / "hooks.md").read_text() == installed_pages()["hooks.md"]


def test_architecture_table_covers_every_package() -> None:
    """docs/architecture.md's "Where the code is" names every core module and package, every
    module of the core's packages, and every plugin."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("## Where the code is"):]
    core = REPO / "core" / "rtpgate"
    wanted = [f"`{p.name}`" for p in core.glob("*.py") if p.name != "__init__.py"]
    wanted += [f"`core/rtpgate/{p.parent.name}/`" for p in core.glob("*/__init__.py")]
    wanted += [f"`plugins/{p.parent.name}/" for p in REPO.glob("plugins/*/pyproject.toml")]
    # and every module of the core's packages (media/srtp.py, engine/webrtc.py, ...)
    wanted += [f"`{p.name}`" for p in core.glob("*/*.py") if p.name != "__init__.py"]
    missing = [name for name in wanted
               if name not in table and name.replace("`", "`core/rtpgate/", 1) not in table]
    assert missing == []
