"""Which worker owns a call, and what the supervisor tells each worker it starts.

A call belongs to worker ``crc32(call-id) mod N``: stable across restarts and across processes
(Python's ``hash()`` of a string is salted per process), so every worker routes a call-id to the
same owner, and a restarted worker owns the same calls (and restores them from a persistence
plugin).  The supervisor passes a :class:`WorkerSpec` in the environment; the worker applies it
to its settings before the engine is built: its share of the media port range, the listener
addresses with the ports the supervisor reserved (so every worker binds the same ports, also
when the command line said port 0), its own ready file and no pid file.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import CoreSettings, SettingsBase
from ..engine.settings import EngineSettings

#: The environment variable a worker finds its :class:`WorkerSpec` in (no option has this name).
SPEC_ENV = "RTPGATE_WORKER_SPEC"


def owner(call_id: str, count: int) -> int:
    """The index of the worker that owns ``call_id`` among ``count`` workers."""
    return zlib.crc32(call_id.encode("utf-8", "surrogateescape")) % count


def port_share(port_min: int, port_max: int, index: int, count: int) -> tuple[int, int]:
    """Worker ``index``'s slice of ``[port_min, port_max]``: equal even-sized slices (RTP on
    an even port, RTCP on the next), the last one takes the rest."""
    size = (port_max - port_min + 1) // count // 2 * 2
    if size < 2:
        raise ValueError(f"--port-min/--port-max: {port_max - port_min + 1} ports cannot be "
                         f"shared by {count} workers")
    low = port_min + index * size
    high = port_max if index == count - 1 else low + size - 1
    return low, high


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker is told by its supervisor."""

    index: int
    count: int
    #: Directory of the workers' Unix sockets (``worker-<index>.sock``).
    link_dir: str
    #: Where this worker writes its ready file; the supervisor waits for it.
    ready_file: str
    #: Listener option field -> its addresses, with the reserved ports.
    listeners: dict[str, list[str]] = field(default_factory=dict)
    #: This worker's media port range.
    port_min: int = 0
    port_max: int = 0
    #: The loop-protection marker (``a=rtpengine:<id>``) every worker writes and recognises,
    #: so a looped offer is caught whichever worker its call-id lands on.
    instance_id: str = ""

    def owns(self, call_id: str) -> bool:
        return owner(call_id, self.count) == self.index

    def socket_path(self, index: int) -> str:
        return f"{self.link_dir}/worker-{index}.sock"

    @property
    def failure_file(self) -> str:
        """Where this worker leaves why it could not start, for the supervisor to report."""
        return f"{self.ready_file}.failed"

    def report_failure(self, message: str) -> None:
        with open(self.failure_file, "w", encoding="utf-8") as fh:
            fh.write(message)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSpec | None:
        text = env.get(SPEC_ENV)
        if not text:
            return None
        data: dict[str, Any] = json.loads(text)
        return cls(**data)

    def apply(self, settings: SettingsBase) -> None:
        """Set this worker's share of the settings (validated assignments)."""
        for name, addresses in self.listeners.items():
            setattr(settings, name, list(addresses))
        core = settings.view(CoreSettings)
        core.ready_file = self.ready_file
        core.pidfile = None
        core.foreground = True
        if settings.named("port_min") is not None:
            ports = settings.view(EngineSettings)
            ports.port_min = self.port_min
            ports.port_max = self.port_max
