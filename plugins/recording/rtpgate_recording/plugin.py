"""The plugin's hooks: rtpengine's recording options, the relay tap, and following the calls."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field
from rtpgate.api import ConfigError, Option, SettingsView, hookimpl, parse_endpoint

from .recorder import Config, Recorder
from .tap import RecordingFactory

if TYPE_CHECKING:
    from rtpgate.api import Call, PipelineFactory, Runtime

OPTIONS: tuple[Option, ...] = (
    Option("recording-dir", str, "", "spool directory where recordings and their metadata "
           "are written (recording is off without it)", metavar="PATH"),
    Option("recording-method", Literal["pcap", "proc"], "pcap",
           "pcap: one pcap file per call; proc: the spool that rtpengine-recording reads",
           metavar="pcap|proc"),
    Option("recording-format", Literal["raw", "eth"], "raw",
           "pcap link type: raw IP packets, or with an Ethernet header", metavar="raw|eth"),
    Option("recording-queue", Annotated[int, Field(ge=1)], 10000,
           "packets that may wait to be written; more are dropped and counted", metavar="INT"),
    Option("forward-to", str, "", "UDP target that 'start forwarding' sends a copy of the "
           "call's packets to", metavar="IP:PORT"),
)


#: The recorder of each running server, by ``id(runtime)`` (made when the engine asks for
#: pipeline factories, before any hook below runs).
_RECORDERS: dict[int, Recorder] = {}


def recorder(runtime: Runtime) -> Recorder:
    """The running server's recorder."""
    return _RECORDERS[id(runtime)]


class RecordingSettings(SettingsView):
    recording_dir: str
    recording_method: str
    recording_format: str
    recording_queue: int
    forward_to: str


def _config(runtime: Runtime) -> Config:
    settings = runtime.settings.view(RecordingSettings)
    target = None
    if settings.forward_to:
        try:
            target = parse_endpoint(settings.forward_to)
        except ValueError as exc:
            raise ConfigError(f"--forward-to: {exc}") from None
    return Config(settings.recording_dir, settings.recording_method, settings.recording_format,
                  settings.recording_queue, target)


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return OPTIONS


@hookimpl(tryfirst=True)
def rtpgate_media_pipeline(runtime: Runtime) -> Iterable[PipelineFactory]:
    made = Recorder(_config(runtime))
    _RECORDERS[id(runtime)] = made
    return [RecordingFactory(made)]


@hookimpl
def rtpgate_startup(runtime: Runtime) -> None:
    recorder(runtime).start()


@hookimpl
def rtpgate_shutdown(runtime: Runtime) -> None:
    made = _RECORDERS.pop(id(runtime), None)
    if made is not None:
        made.stop()


@hookimpl
def rtpgate_call_changed(runtime: Runtime, call: Call) -> None:
    made = _RECORDERS.get(id(runtime))
    if made is not None:
        made.changed(call)


@hookimpl(optionalhook=True)  # the metrics plugin's hook: loads without rtpgate-metrics too
def rtpgate_metrics_collectors(runtime: Runtime) -> Iterable[object]:
    from .metrics import RecordingCollector

    return [RecordingCollector(lambda: _RECORDERS.get(id(runtime)))]


@hookimpl
def rtpgate_call_ended(runtime: Runtime, call: Call) -> None:
    made = _RECORDERS.get(id(runtime))
    if made is not None:
        made.ended(call)
