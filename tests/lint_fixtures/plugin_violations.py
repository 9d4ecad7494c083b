"""Deliberate violations of the plugin import rules, linted by tests/test_lint_rules.py as if this
file were inside a plugin (it is excluded from the repository's own lint run)."""

import tornado.web
from rtpgate import engine
from rtpgate.api import Protocol
from rtpgate.engine.model import Call
from rtpgate.runtime import Runtime

__all__ = ["Call", "Protocol", "Runtime", "engine", "tornado"]
