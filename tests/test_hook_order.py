"""The order and semantics of hook calls: pluggy's own (newest registration first, ``tryfirst``,
``trylast``, ``wrapper=True``, call monitoring), with one addition: a plain implementation that
raises during a contribution or shutdown call is reported and left out, and the others run.

Core's ``rtpgate_startup`` (which starts the engine) runs before every plugin's and its
``rtpgate_shutdown`` (which stops the engine and releases its calls) after every plugin's."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from types import SimpleNamespace
from typing import Any

import pytest
from rtpgate.api import (
    HttpRoute,
    Message,
    NgCommand,
    NgContext,
    NgRequest,
    Option,
    Protocol,
    Reply,
    Runtime,
    hookimpl,
)
from rtpgate.ngcommands import codec
from rtpgate.testing import make_runtime

OFFER_SDP = ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
             "m=audio 4000 RTP/AVP 0\r\n")


class Named(Protocol):
    def __init__(self, name: str) -> None:
        self.name = name
        self.http_routes = (HttpRoute("GET", f"/{name}"),)

    async def handle(self, message: Message) -> Reply | None:
        return None


def Recorder(name: str, log: list[Any], fails: str = "",  # noqa: N802 - a plugin
             **opts: bool) -> SimpleNamespace:
    """A plugin whose startup, shutdown and protocols hooks write to ``log``; ``opts`` are the
    hookimpl options of all three; the one named by ``fails`` raises."""
    marker = hookimpl(**opts)

    def step(what: str, runtime: Runtime) -> None:
        log.append((name, what, runtime.engine.running, len(runtime.engine.calls())))
        if fails == what:
            raise RuntimeError(f"{name} fails {what} (on purpose)")

    @marker
    async def rtpgate_startup(runtime: Runtime) -> None:
        step("startup", runtime)

    @marker
    async def rtpgate_shutdown(runtime: Runtime) -> None:
        step("shutdown", runtime)

    @marker
    def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
        log.append((name, "protocols"))
        if fails == "protocols":
            raise RuntimeError(f"{name} refuses to contribute (on purpose)")
        return [Named(name)]

    return SimpleNamespace(__name__=name, rtpgate_startup=rtpgate_startup,
                           rtpgate_shutdown=rtpgate_shutdown,
                           rtpgate_protocols=rtpgate_protocols)


class Wrapper:
    """A ``wrapper=True`` implementation around every startup and protocols call."""

    __name__ = "wrapper"

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    @hookimpl(wrapper=True)
    def rtpgate_startup(self, runtime: Runtime) -> Generator[None, Any, Any]:
        self.log.append(("wrapper", "before"))
        result = yield
        self.log.append(("wrapper", "after", len(result)))
        return result

    @hookimpl(wrapper=True)
    def rtpgate_protocols(self, runtime: Runtime) -> Generator[None, Any, Any]:
        result = yield
        return [*result, [Named("added-by-wrapper")]]


async def offer(runtime: Runtime, call_id: str) -> dict[str, Any]:
    payload = codec.encode({"command": "offer", "call-id": call_id, "from-tag": "a",
                            "sdp": OFFER_SDP}, "bencode")
    reply, _ = codec.decode(await runtime.ng.process(payload, None, "test"))
    return reply


def names(log: list[Any], what: str) -> list[str]:
    return [entry[0] for entry in log if entry[1] == what]


async def test_hook_order_startup_core_first_then_newest_plugin_first() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("older", log), Recorder("newer", log))
    await runtime.plugins.startup(runtime)
    # each plugin's startup sees the engine started by core's (tryfirst) implementation
    assert log == [("newer", "startup", True, 0), ("older", "startup", True, 0)]
    await runtime.plugins.shutdown(runtime)


async def test_hook_order_tryfirst_and_trylast_move_an_implementation() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("first", log, tryfirst=True), Recorder("plain", log),
                           Recorder("last", log, trylast=True), Recorder("plain2", log))
    await runtime.plugins.startup(runtime)
    assert names(log, "startup") == ["first", "plain2", "plain", "last"]
    runtime.plugins.protocols(runtime)
    assert names(log, "protocols") == ["first", "plain2", "plain", "last"]


async def test_hook_order_wrapper_wraps_the_call() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("plain", log), Wrapper(log))
    await runtime.plugins.startup(runtime)
    # the wrapper sees the whole call (two implementations: core's and the plugin's) ...
    assert log[0] == ("wrapper", "before")
    assert log[1] == ("wrapper", "after", 2)
    assert names(log, "startup") == ["plain"]
    # ... and what it returns is what the call returns
    protocols = [p.name for _, p in runtime.plugins.protocols(runtime)]
    assert protocols == ["plain", "added-by-wrapper"]


async def test_hook_order_calls_are_seen_by_call_monitoring() -> None:
    seen: list[str] = []
    runtime = make_runtime(Recorder("plain", []))
    undo = runtime.plugins.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: seen.append(name), lambda *args: None)
    runtime.plugins.protocols(runtime)
    await runtime.plugins.startup(runtime)
    await runtime.plugins.shutdown(runtime)
    undo()
    called = {"rtpgate_protocols", "rtpgate_startup", "rtpgate_shutdown"}
    assert [name for name in seen if name in called] == [
        "rtpgate_protocols", "rtpgate_startup", "rtpgate_shutdown"]


async def test_hook_order_a_raising_contribution_is_reported_and_left_out() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("good", log), Recorder("bad", log, fails="protocols"),
                           Recorder("good2", log))
    protocols = [(plugin, p.name) for plugin, p in runtime.plugins.protocols(runtime)]
    assert protocols == [("good2", "good2"), ("good", "good")]
    assert names(log, "protocols") == ["good2", "bad", "good"]  # all were called
    record = runtime.plugins.records["bad"]
    assert record.status == "failed"
    assert record.error == "RuntimeError: bad refuses to contribute (on purpose)"
    runtime.plugins.protocols(runtime)
    assert names(log, "protocols")[3:] == ["good2", "good"]  # a failed plugin is unregistered


async def test_hook_order_a_failing_startup_aborts_the_rest() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("after", log), Recorder("bad", log, fails="startup"))
    with pytest.raises(RuntimeError, match="bad fails startup"):
        await runtime.plugins.startup(runtime)
    assert names(log, "startup") == ["bad"]
    await runtime.plugins.shutdown(runtime)


async def test_shutdown_order_plugins_first_while_the_engine_still_holds_its_calls() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("older", log), Recorder("newer", log))
    await runtime.plugins.startup(runtime)
    assert (await offer(runtime, "call-1"))["result"] == "ok"
    assert await runtime.plugins.shutdown(runtime) == []
    assert [entry for entry in log if entry[1] == "shutdown"] == [
        ("newer", "shutdown", True, 1), ("older", "shutdown", True, 1)]
    # core's (trylast) implementation ran last: the engine is stopped, its calls released
    assert not runtime.engine.running and runtime.engine.calls() == []


async def test_shutdown_order_a_failing_shutdown_does_not_stop_the_others() -> None:
    log: list[Any] = []
    runtime = make_runtime(Recorder("older", log), Recorder("bad", log, fails="shutdown"),
                           Recorder("newer", log))
    await runtime.plugins.startup(runtime)
    failures = await runtime.plugins.shutdown(runtime)
    assert [(name, str(exc)) for name, exc in failures] == [
        ("bad", "bad fails shutdown (on purpose)")]
    assert names(log, "shutdown") == ["newer", "bad", "older"]
    assert not runtime.engine.running


async def test_hook_order_core_contributions_come_first() -> None:
    """Core's contribution hooks are ``tryfirst``: a plugin claiming the name of one of core's
    ng commands is the one left out, and core's options come first."""

    async def mine(request: NgRequest, ctx: NgContext) -> dict[str, Any]:
        return {"result": "mine"}

    claimer = SimpleNamespace(
        __name__="claimer",
        rtpgate_ng_commands=hookimpl(lambda runtime: [NgCommand("ping", "ping", NgRequest,
                                                                mine)]),
        rtpgate_options=hookimpl(lambda: [Option("claimer-option", int, 0, "an option")]))
    runtime = make_runtime(claimer)
    reply = await runtime.ng.process(b"d7:command4:pinge", None, "test")
    assert reply == b"d6:result4:ponge"
    assert "conflict: ng command 'ping' of plugin claimer left out: taken" in \
        runtime.plugins.records["claimer"].provides
    assert runtime.plugins.options()[0][0] == "rtpgate"
    assert runtime.options[-1].name == "claimer-option"
