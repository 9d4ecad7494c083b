"""What a plugin may import from rtpgate: everything here is the plugin authors' contract.

Plugins import from this module (and :mod:`rtpgate.testing` in their tests) only; the rest of
the ``rtpgate`` package is the core's own and may change shape between releases.  The lint
environment enforces this (``TID251`` in ``pyproject.toml``).  The way pytest's ``pytest``
module faces ``_pytest``: the names are re-exported here, their documentation is where they are
defined.

- marking hooks: :data:`hookimpl`, and :data:`hookspec` for a plugin's own hooks (see
  ``rtpgate_addhooks``); the hooks themselves are documented in ``docs/hooks.md``;
- contracts: :class:`Protocol`, :class:`Transport` and their value types, :class:`Option`,
  :class:`Subcommand`, :class:`ConfigError`;
- the running server: :class:`Runtime` (settings, counters, engine, ng commands), the
  :class:`PluginHost` a sub-command gets;
- ng: :class:`NgCommand`, :class:`NgRequest` and :func:`key` for a request model,
  :class:`NgContext`, :class:`NgError`, :class:`NgReply`, :class:`NgDispatcher` (what the ng
  protocols hand a payload to), :func:`bencode_prefix_length` (framing ng over TCP);
- access control for transports: ``allow_option``, :class:`SourceFilter`, :class:`HttpAccess`,
  ``refused``, ``warn_if_open``;
- the engine's read-only views (see the docstring of :mod:`rtpgate.engine`) and the counters'
  types, for the CLI and metrics.
"""

from . import __version__, hookimpl
from .access import (
    AccessStats,
    HttpAccess,
    SourceFilter,
    allow_option,
    refused,
    source_filter,
    warn_if_open,
)
from .config import ConfigError
from .counters import CLOSE_REASONS, LATENCY_BUCKETS, CookieCacheStats, Stats
from .engine import Engine, EngineStatistics, PoolStatus
from .hookspecs import hookspec
from .netaddr import Endpoint, ListenAddress, parse_endpoint
from .ngcommands.codec import bencode_prefix_length
from .ngcommands.command import NgCommand, NgContext, NgError
from .ngcommands.command import Reply as NgReply
from .ngcommands.dispatch import NgDispatcher
from .ngcommands.models import NgRequest, key
from .options import Option
from .plugins import PluginHost, Subcommand
from .protocol import (
    BoundAddress,
    DatagramListener,
    HttpRoute,
    HttpUpgrade,
    Listener,
    Message,
    Protocol,
    Rejected,
    Reply,
    StreamListener,
    Transport,
)
from .runtime import Runtime
from .statistics import gather, json_text, prom_samples, totals_text

__all__ = [
    "CLOSE_REASONS",
    "LATENCY_BUCKETS",
    "AccessStats",
    "BoundAddress",
    "ConfigError",
    "CookieCacheStats",
    "DatagramListener",
    "Endpoint",
    "Engine",
    "EngineStatistics",
    "HttpAccess",
    "HttpRoute",
    "HttpUpgrade",
    "ListenAddress",
    "Listener",
    "Message",
    "NgCommand",
    "NgContext",
    "NgDispatcher",
    "NgError",
    "NgReply",
    "NgRequest",
    "Option",
    "PluginHost",
    "PoolStatus",
    "Protocol",
    "Rejected",
    "Reply",
    "Runtime",
    "SourceFilter",
    "Stats",
    "StreamListener",
    "Subcommand",
    "Transport",
    "__version__",
    "allow_option",
    "bencode_prefix_length",
    "gather",
    "hookimpl",
    "hookspec",
    "json_text",
    "key",
    "parse_endpoint",
    "prom_samples",
    "refused",
    "source_filter",
    "totals_text",
    "warn_if_open",
]
