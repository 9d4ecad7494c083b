"""What a plugin may import, linted by tests/test_lint_rules.py as if it were inside a plugin."""

from rtpgate import hookimpl
from rtpgate.api import Protocol, Runtime
from rtpgate.testing import make_runtime

__all__ = ["Protocol", "Runtime", "hookimpl", "make_runtime"]
