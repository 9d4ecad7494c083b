"""Finding the sub-commands and their options from the command line itself."""

from __future__ import annotations

import subprocess
import sys

import pytest
from e2e_helpers import run_rtpgate

SUBCOMMANDS = ("ctl", "ng-schema", "options", "plugins")


def test_server_help_lists_subcommands_and_defaults() -> None:
    result = run_rtpgate("--help")
    assert result.returncode == 0
    epilog = result.stdout.split("sub-commands (rtpgate NAME --help describes each):\n")[1]
    listed = [line.split()[0] for line in epilog.splitlines() if line.startswith("  ")]
    assert set(SUBCOMMANDS) <= set(listed) and listed == sorted(listed)
    flat = " ".join(result.stdout.split())  # argparse wraps help text
    assert "lowest media port to allocate (default: 30000)" in flat
    assert "(default: 127.0.0.1:8080 (when no listener is given))" in flat
    assert "(default: 6)" in flat  # --log-level


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_its_own_help(name: str) -> None:
    result = run_rtpgate(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: rtpgate {name} ")
    assert "--port-min" not in result.stdout  # not the server's usage
    assert "| option |" not in result.stdout  # options: not the reference itself
    assert result.stderr == ""


def test_subcommand_output_into_a_closed_pipe_is_quiet() -> None:
    """``rtpgate ng-schema | head -1``: no BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "rtpgate", "ng-schema"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"{\n"
    proc.stdout.close()  # the reader goes away with most of the 100+ KiB unread
    stderr = proc.stderr.read()
    assert proc.wait(60) == 141
    assert stderr == b""


def test_bad_option_is_reported_once() -> None:
    result = run_rtpgate("--no-such-option")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[-1] == "rtpgate: error: unrecognized arguments: --no-such-option"
    assert lines[0].startswith("usage: rtpgate ")
    assert "invalid command line" not in result.stderr
