"""Fixtures of the end-to-end tests; the helpers live in ``e2e_helpers``."""

from e2e_helpers import plugin_site, scratch_venv

__all__ = ["plugin_site", "scratch_venv"]
