"""Test plugin whose import raises."""

raise ImportError("broken_probe cannot be imported (on purpose)")
