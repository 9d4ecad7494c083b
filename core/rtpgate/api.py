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
- settings: :class:`SettingsView`, the base of a typed view a plugin reads its settings
  through (``runtime.settings.view(MySettings)``), and :class:`AccessSettings`;
- access control for transports: :func:`allow_option`, :class:`SourceFilter`,
  :class:`HttpAccess`, :func:`refused`, :func:`warn_if_open`;
- the engine's read-only views (see the docstring of :mod:`rtpgate.engine`) and the counters'
  types, for the CLI and metrics; the engine's call model (``Call``, ``Monologue``, ``Media``,
  ``Stream``, ``MediaEndpoint``, their ``MF_*``/``PS_*`` flags, ``MediaSocket``,
  ``LocalAddress``) and what carries a stream's secured media over a restart (``MediaResume``,
  ``SrtpKeys``, :func:`media_resume`), for a plugin that persists and restores calls;
- the media pipeline (:class:`Pipeline`, :class:`Stage`, :class:`PipelineFactory`) and codec
  support (:class:`CodecCapability`, :class:`Codec`), for a plugin that processes media;
  :func:`packet_capture` and :class:`PacketCapture`, for a stage that records packets as pcap
  records and lets the native read loop do it (a stage's ``capture``, see
  :mod:`rtpgate.media.pipeline`);
- :class:`LogLimiter` and :func:`clip`, for logging what clients send; :func:`is_loopback` and
  :func:`hash_password` (the dashboard's login and its tests).
"""

from . import __version__, hookimpl
from .access import (
    AccessSettings,
    HttpAccess,
    SourceFilter,
    allow_option,
    hash_password,
    is_loopback,
    refused,
    source_filter,
    warn_if_open,
)
from .config import ConfigError, SettingsView
from .counters import CLOSE_REASONS, LATENCY_BUCKETS, AccessStats, CookieCacheStats, Stats
from .engine import Engine, EngineStatistics, PoolStatus
from .engine.callrelay import PipelineFactory
from .engine.codec_support import CodecCapability, CodecSupport
from .engine.codecs import Codec
from .engine.interfaces import LocalAddress
from .engine.model import (
    MEDIA_FLAG_NAMES,
    MF_ASYMMETRIC,
    MF_DTLS,
    MF_DTLS_ACTIVE,
    MF_DTLS_PASSIVE,
    MF_ICE,
    MF_ICE_CONTROLLING,
    MF_ICE_LITE_PEER,
    MF_ICE_LITE_SELF,
    MF_INITIALIZED,
    MF_LOOP_CHECK,
    MF_PTIME_OVERRIDE,
    MF_RECV,
    MF_RTCP_MUX,
    MF_RTCP_MUX_OVERRIDE,
    MF_SDES,
    MF_SDES_REORDERED,
    MF_SEND,
    MF_TRANSCODING,
    MF_TRICKLE_ICE,
    MF_UNIDIRECTIONAL,
    PS_CONFIRMED,
    PS_FALLBACK_RTCP,
    PS_FILLED,
    PS_FINGERPRINT_VERIFIED,
    PS_ICE,
    PS_IMPLICIT_RTCP,
    PS_MEDIA_HANDOVER,
    PS_RTCP,
    PS_RTP,
    PS_STRICT_SOURCE,
    PS_ZERO_ADDR,
    STREAM_FLAG_NAMES,
    Call,
    Counters,
    DtlsState,
    DtmfTrigger,
    EndpointMap,
    IceCredentials,
    Media,
    MediaControl,
    MediaResume,
    Monologue,
    Recording,
    RemoteIce,
    Stream,
    flag_names,
)
from .engine.model import (
    Endpoint as MediaEndpoint,
)
from .engine.playback import MediaPlayers, PlaySource
from .engine.ports import MediaSocket
from .engine.resume import snapshot as media_resume
from .engine.store import CallStore
from .hookspecs import hookspec
from .loglimit import LogLimiter, clip
from .media.dtls import STATS as DTLS_STATS
from .media.dtls import SrtpKeys
from .media.iceagent import STATS as ICE_STATS
from .media.native import Capture as PacketCapture
from .media.native import capture as packet_capture
from .media.pipeline import Pipeline, Stage
from .media.rtcp import ReportBlock
from .media.suites import CryptoParams, Suite, find_suite
from .netaddr import Endpoint, ListenAddress, parse_endpoint
from .ngcommands.codec import bencode_prefix_length
from .ngcommands.codec import encode as ng_encode
from .ngcommands.command import (
    NgCommand,
    NgContext,
    NgError,
)
from .ngcommands.command import (
    Reply as NgReply,
)
from .ngcommands.dispatch import NgDispatcher
from .ngcommands.models import NgRequest, key
from .options import Option
from .plugins import PluginHost, Subcommand
from .protocol import (
    BoundAddress,
    Channel,
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
from .statistics import control_columns, gather, json_text, totals_text
from .workers.routing import Workers
from .workers.totals import merged_counters, merged_metrics

__all__ = [
    "CLOSE_REASONS",
    "DTLS_STATS",
    "ICE_STATS",
    "LATENCY_BUCKETS",
    "MEDIA_FLAG_NAMES",
    "MF_ASYMMETRIC",
    "MF_DTLS",
    "MF_DTLS_ACTIVE",
    "MF_DTLS_PASSIVE",
    "MF_ICE",
    "MF_ICE_CONTROLLING",
    "MF_ICE_LITE_PEER",
    "MF_ICE_LITE_SELF",
    "MF_INITIALIZED",
    "MF_LOOP_CHECK",
    "MF_PTIME_OVERRIDE",
    "MF_RECV",
    "MF_RTCP_MUX",
    "MF_RTCP_MUX_OVERRIDE",
    "MF_SDES",
    "MF_SDES_REORDERED",
    "MF_SEND",
    "MF_TRANSCODING",
    "MF_TRICKLE_ICE",
    "MF_UNIDIRECTIONAL",
    "PS_CONFIRMED",
    "PS_FALLBACK_RTCP",
    "PS_FILLED",
    "PS_FINGERPRINT_VERIFIED",
    "PS_ICE",
    "PS_IMPLICIT_RTCP",
    "PS_MEDIA_HANDOVER",
    "PS_RTCP",
    "PS_RTP",
    "PS_STRICT_SOURCE",
    "PS_ZERO_ADDR",
    "STREAM_FLAG_NAMES",
    "AccessSettings",
    "AccessStats",
    "BoundAddress",
    "Call",
    "CallStore",
    "Channel",
    "Codec",
    "CodecCapability",
    "CodecSupport",
    "ConfigError",
    "CookieCacheStats",
    "Counters",
    "CryptoParams",
    "DatagramListener",
    "DtlsState",
    "DtmfTrigger",
    "Endpoint",
    "EndpointMap",
    "Engine",
    "EngineStatistics",
    "HttpAccess",
    "HttpRoute",
    "HttpUpgrade",
    "IceCredentials",
    "ListenAddress",
    "Listener",
    "LocalAddress",
    "LogLimiter",
    "Media",
    "MediaControl",
    "MediaEndpoint",
    "MediaPlayers",
    "MediaResume",
    "MediaSocket",
    "Message",
    "Monologue",
    "NgCommand",
    "NgContext",
    "NgDispatcher",
    "NgError",
    "NgReply",
    "NgRequest",
    "Option",
    "PacketCapture",
    "Pipeline",
    "PipelineFactory",
    "PlaySource",
    "PluginHost",
    "PoolStatus",
    "Protocol",
    "Recording",
    "Rejected",
    "RemoteIce",
    "Reply",
    "ReportBlock",
    "Runtime",
    "SettingsView",
    "SourceFilter",
    "SrtpKeys",
    "Stage",
    "Stats",
    "Stream",
    "StreamListener",
    "Subcommand",
    "Suite",
    "Transport",
    "Workers",
    "__version__",
    "allow_option",
    "bencode_prefix_length",
    "clip",
    "control_columns",
    "find_suite",
    "flag_names",
    "gather",
    "hash_password",
    "hookimpl",
    "hookspec",
    "is_loopback",
    "json_text",
    "key",
    "media_resume",
    "merged_counters",
    "merged_metrics",
    "ng_encode",
    "packet_capture",
    "parse_endpoint",
    "refused",
    "source_filter",
    "totals_text",
    "warn_if_open",
]
