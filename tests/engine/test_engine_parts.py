"""The engine takes what it needs (typed settings, the counters, its hooks), not the runtime;
settings are read through one typed view; the engine-side hooks are called through the host's
typed facade, a failing implementation logged and the others still run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import pytest
from rtpgate import hookimpl
from rtpgate.config import ConfigError, SettingsView
from rtpgate.counters import Stats
from rtpgate.engine import Engine
from rtpgate.engine.callrelay import PipelineFactory
from rtpgate.engine.codec_support import CodecCapability
from rtpgate.engine.model import Call
from rtpgate.engine.negotiate import OFFER
from rtpgate.engine.playback import MediaPlayers
from rtpgate.engine.requests import OfferRequest
from rtpgate.engine.settings import EngineSettings
from rtpgate.engine.signalling import offer_answer
from rtpgate.runtime import Runtime
from rtpgate.testing import free_port_block, make_runtime, media_ports

SDP = ("v=0\r\no=- 1 1 IN IP4 192.168.10.21\r\ns=-\r\nc=IN IP4 192.168.10.21\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\n")


class RecordedHooks:
    """The engine's hooks as a list of what the engine announced (no plugin contributes)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def call_changed(self, call: Call) -> None:
        self.seen.append(("changed", call.call_id))

    def call_ended(self, call: Call) -> None:
        self.seen.append(("ended", call.call_id))

    async def calls_restore(self) -> None:
        self.seen.append(("restore", ""))

    def media_codecs(self) -> Sequence[CodecCapability]:
        return ()

    def media_pipeline(self) -> Sequence[PipelineFactory]:
        return ()

    def media_players(self) -> Sequence[MediaPlayers]:
        return ()


def test_the_engine_is_built_from_settings_counters_and_hooks_without_a_runtime() -> None:
    base = free_port_block(100)
    settings = make_runtime(args=[f"--port-min={base}", f"--port-max={base + 99}"]).settings
    stats, hooks = Stats(), RecordedHooks()
    engine = Engine(settings.view(EngineSettings), stats, hooks)
    assert not hasattr(engine, "runtime")

    async def scenario() -> None:
        await engine.start()
        request = OfferRequest.model_validate({"command": "offer", "sdp": SDP, "call-id": "c1",
                                                "from-tag": "a"})
        reply = offer_answer(engine, request, ("127.0.0.1", 5060), OFFER)
        port = int(str(reply["sdp"]).split("m=audio ")[1].split()[0])
        assert base <= port < base + 100  # from the range in the settings it was given
        call = engine.call("c1")
        assert call is not None
        engine.end(call, "force_terminated")
        await engine.stop()

    asyncio.run(scenario())
    assert hooks.seen == [("restore", ""), ("changed", "c1"), ("ended", "c1")]
    assert stats.totals.closed["force_terminated"] == 1  # the counters it was given


def test_a_settings_view_is_live_and_typed() -> None:
    runtime = make_runtime()
    view = runtime.settings.view(EngineSettings)
    runtime.settings.timeout = 7  # type: ignore[attr-defined]  # what the CLI's set does
    assert view.timeout == 7
    assert runtime.engine.settings.timeout == 7


def test_a_settings_view_of_an_option_nobody_declares_is_refused() -> None:
    class Wanted(SettingsView):
        timeout: int
        no_such_option: str

    with pytest.raises(ConfigError, match="Wanted: no option declares no_such_option"):
        make_runtime().settings.view(Wanted)


class Failing:
    @hookimpl
    def rtpgate_call_changed(self, runtime: Runtime, call: Call) -> None:
        raise RuntimeError("boom")

    @hookimpl
    def rtpgate_call_ended(self, runtime: Runtime, call: Call) -> None:
        raise RuntimeError("boom")

    @hookimpl
    async def rtpgate_calls_restore(self, runtime: Runtime) -> None:
        raise RuntimeError("boom")


class Listening:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(trylast=True)
    def rtpgate_call_changed(self, runtime: Runtime, call: Call) -> None:
        self.seen.append(f"changed {call.call_id}")

    @hookimpl(trylast=True)
    def rtpgate_call_ended(self, runtime: Runtime, call: Call) -> None:
        self.seen.append(f"ended {call.call_id}")

    @hookimpl(trylast=True)
    def rtpgate_calls_restore(self, runtime: Runtime) -> None:
        self.seen.append("restore")


def test_a_failing_engine_hook_is_logged_and_the_others_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    listening = Listening()
    runtime = make_runtime(listening, Failing(), args=media_ports(100))
    engine = runtime.engine
    call = Call("c2")

    async def scenario() -> None:
        await engine.start()
        engine.changed(call)
        engine.end(call, "force_terminated")
        await engine.stop()

    with caplog.at_level(logging.ERROR, "rtpgate.plugins"):
        asyncio.run(scenario())
    assert listening.seen == ["restore", "changed c2", "ended c2"]
    assert [r.getMessage() for r in caplog.records] == [
        "restoring calls failed (plugin Failing)",
        "rtpgate_call_changed failed for call c2 (plugin Failing)",
        "rtpgate_call_ended failed for call c2 (plugin Failing)"]
    assert runtime.plugins.records["Failing"].status == "loaded"  # one bad call costs nothing
