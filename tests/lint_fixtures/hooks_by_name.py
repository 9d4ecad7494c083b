"""Deliberate violations for tests/test_hook_facade.py: hooks called by their names."""

from typing import Any


def violations(runtime: Any, call: Any) -> None:
    runtime.plugins.pm.hook.rtpgate_call_changed(runtime=runtime, call=call)
    runtime.plugins.collect("rtpgate_media_codecs", runtime=runtime)
    getattr(runtime.plugins.pm.hook, "rtpgate_call_ended")(runtime=runtime, call=call)
    runtime.plugins.run("rtpgate_startup", isolated=False, runtime=runtime)


def fine(runtime: Any, call: Any) -> None:
    runtime.plugins.call_changed(runtime, call)
    runtime.plugins.media_codecs(runtime)
    {"rtpgate": 1}.get("rtpgate")
