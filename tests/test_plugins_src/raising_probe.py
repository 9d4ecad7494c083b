"""Test plugin whose contribution hook raises: the host marks it failed, the rest load."""

from __future__ import annotations

from rtpgate import hookimpl
from rtpgate.runtime import Runtime


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> list[object]:
    raise RuntimeError("raising_probe refuses to contribute (on purpose)")
