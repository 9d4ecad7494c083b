"""Test plugin with a misspelt hook implementation (``rtpgate_protocol``, no ``s``): the host's
``check_pending`` must refuse it."""

from __future__ import annotations

from rtpgate import hookimpl


@hookimpl
def rtpgate_protocol(runtime: object) -> list[object]:
    return []
