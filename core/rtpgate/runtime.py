"""The running server's shared state, handed to every hook that needs more than settings."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import SettingsBase
from .counters import Stats
from .options import Option
from .plugins import PluginHost
from .protocol import BoundAddress, HttpUpgrade

if TYPE_CHECKING:
    from .engine import Engine
    from .ngcommands.dispatch import NgDispatcher
    from .workers.routing import Workers


@dataclass
class Runtime:
    """One per server process.  Plugins read ``settings`` and use the registries here; they
    should not keep references to each other."""

    settings: SettingsBase
    plugins: PluginHost
    options: Sequence[Option]
    #: When the server started (``time.time()``), for uptime.
    started: float = field(default_factory=time.time)
    #: HTTP ``Upgrade`` handlers by lower-case token, filled by transports in ``setup``.
    http_upgrades: dict[str, HttpUpgrade] = field(default_factory=dict)
    #: What the transports bound, filled as they start.
    bound: list[BoundAddress] = field(default_factory=list)
    #: Settings values as they were at startup, for the CLI's ``params start|diff|revert``.
    initial: dict[str, Any] = field(default_factory=dict)
    #: The one set of counters (see :mod:`rtpgate.counters`).
    stats: Stats = field(default_factory=Stats)
    #: Every registered ng command; set by :func:`rtpgate.boot.boot`.
    ng: NgDispatcher = field(init=False)
    #: The call engine (see :mod:`rtpgate.engine`); set by :func:`rtpgate.boot.boot`.
    engine: Engine = field(init=False)
    #: This worker among its siblings with ``--num-threads`` above 1 (see
    #: :mod:`rtpgate.workers`), ``None`` in a single process.
    workers: Workers | None = None

    @property
    def reuse_port(self) -> bool:
        """Listeners are shared with sibling workers: transports bind with ``SO_REUSEPORT``."""
        return self.workers is not None

    def __post_init__(self) -> None:
        self.initial = self.settings.model_dump()

    def register_http_upgrade(self, upgrade: HttpUpgrade) -> None:
        token = upgrade.token.lower()
        if token in self.http_upgrades:
            raise ValueError(f"HTTP upgrade {token!r} is already handled by "
                             f"{self.http_upgrades[token].owner}")
        self.http_upgrades[token] = upgrade
