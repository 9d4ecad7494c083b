"""Test plugin for the engine's call hooks: appends ``restore``, ``changed <call-id>
<own|foreign>`` and ``ended <call-id>`` lines to ``--hook-log``."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate.api import Call, Option, Runtime, hookimpl


def _append(runtime: Runtime, line: str) -> None:
    with open(runtime.settings.hook_log, "a", encoding="utf-8") as fh:  # type: ignore[attr-defined]
        fh.write(line + "\n")


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [Option("hook-log", str, "", "file the engine hook probe appends to")]


@hookimpl
def rtpgate_calls_restore(runtime: Runtime) -> None:
    _append(runtime, "restore")


@hookimpl
def rtpgate_call_changed(runtime: Runtime, call: Call) -> None:
    _append(runtime, f"changed {call.call_id} {'foreign' if call.foreign else 'own'}")


@hookimpl
def rtpgate_call_ended(runtime: Runtime, call: Call) -> None:
    _append(runtime, f"ended {call.call_id}")
