"""Option declarations: what a configuration option is, before it becomes a settings field.

Core and plugins declare their options as :class:`Option` values (plugins through the
``rtpgate_options`` hook).  :mod:`rtpgate.config` turns the whole set into one pydantic model and
derives the command line, the INI keys and the environment variables from it, so the name, the
default and the help text of each option are written exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Option:
    """One configuration option.

    ``name`` is rtpengine's long option name where rtpengine has the option (``port-min``), so the
    same command line and the same ``rtpengine.conf`` keep working.  ``type`` is a type annotation
    that pydantic validates (``int``, ``list[str]``, ``Annotated[int, Field(ge=1)]``, ...).
    """

    name: str
    type: Any
    default: Any
    help: str
    short: str | None = None
    metavar: str | None = None
    #: A ``--listen-*`` style option.  When no listener option is given from any source, every
    #: listener option takes its ``listener_default``; once one is given, only the given ones open.
    listener: bool = False
    listener_default: tuple[str, ...] = ()
    #: Hidden from ``--help`` (rtpgate-specific plumbing such as ``--ready-file``).
    hidden: bool = False
    #: Which distribution declared it (filled in by the plugin host; shown in docs).
    owner: str = field(default="rtpgate", compare=False)

    @property
    def field_name(self) -> str:
        """The settings attribute: ``port-min`` -> ``port_min``."""
        return self.name.replace("-", "_")

    @property
    def env_name(self) -> str:
        """The environment variable: ``port-min`` -> ``RTPGATE_PORT_MIN``."""
        return "RTPGATE_" + self.field_name.upper()

    @property
    def is_list(self) -> bool:
        return isinstance(self.default, (list, tuple))

    @property
    def is_flag(self) -> bool:
        return self.type is bool

    @property
    def default_text(self) -> str:
        """The default as a reader writes it (``--help``, the man page, the reference); empty
        when there is none worth showing."""
        if self.listener_default:
            return ";".join(self.listener_default) + " (when no listener is given)"
        if self.default in (None, [], ()) or self.is_flag:
            return ""
        return ";".join(self.default) if self.is_list else str(self.default)


#: rtpengine options that rtpgate accepts on the command line and in the INI file but does not
#: implement (kernel forwarding, thread pools, ...): reported once as ignored, never fatal.
#: Maps the long name to whether it takes a value.
IGNORED_RTPENGINE_OPTIONS: dict[str, bool] = {
    "table": True,
    "no-fallback": False,
    "media-num-threads": True,
    "http-threads": True,
    "http-buf-size": True,
    "thread-stack": True,
    "poller-per-thread": False,
    "io-uring": False,
    "io-uring-buffers": True,
    "scheduling": True,
    "priority": True,
    "idle-scheduling": True,
    "idle-priority": True,
    "log-level-internals": True,
    "log-facility-cdr": True,
    "log-facility-rtcp": True,
    "log-facility-dtmf": True,
    "log-mark-prefix": True,
    "log-mark-suffix": True,
    "log-srtp-keys": False,
    "split-logs": False,
    "max-log-line-length": True,
    "tos": True,
    "control-tos": True,
    "control-pmtu": True,
    "graphite": True,
    "graphite-interval": True,
    "graphite-prefix": True,
    "graphite-timeout": True,
    "b2b-url": True,
    "xmlrpc-format": True,
    "homer": True,
    "homer-protocol": True,
    "homer-id": True,
    "homer-disable-rtcp-stats": False,
    "homer-enable-ng": False,
    "recording-dir": True,
    "recording-method": True,
    "recording-format": True,
    "record-egress": False,
    "iptables-chain": True,
    "endpoint-learning": True,
    "jitter-buffer": True,
    "jb-clock-drift": False,
    "dtx-delay": True,
    "max-dtx": True,
    "dtx-buffer": True,
    "dtx-lag": True,
    "dtx-shift": True,
    "dtx-cn-params": True,
    "amr-dtx": True,
    "evs-lib-path": True,
    "codec-chain-lib-path": True,
    "codec-chain-runners": True,
    "codec-chain-concurrency": True,
    "codec-chain-async": True,
    "mos": True,
    "measure-rtp": False,
    "rtcp-interval": True,
    "socket-cpu-affinity": True,
    "cpu-affinity": True,
    "reject-invalid-sdp": False,
    "dtmf-no-suppress": False,
    "dtmf-digit-delay": True,
    "dtmf-no-log-injects": False,
    "silence-detect": True,
    "cn-payload": True,
    "player-cache": False,
    "audio-buffer-length": True,
    "audio-buffer-delay": True,
    "audio-player": True,
    "preload-media-files": True,
    "media-files-reload": True,
    "preload-db-media": True,
    "db-media-reload": True,
    "db-media-cache": True,
    "preload-db-cache": True,
    "db-cache-reload": True,
    "janus-secret": True,
    "mqtt-host": True,
    "mqtt-port": True,
    "mqtt-tls-alpn": True,
    "mqtt-id": True,
    "mqtt-keepalive": True,
    "mqtt-user": True,
    "mqtt-pass": True,
    "mqtt-cafile": True,
    "mqtt-capath": True,
    "mqtt-certfile": True,
    "mqtt-keyfile": True,
    "mqtt-publish-qos": True,
    "mqtt-publish-topic": True,
    "mqtt-publish-interval": True,
    "mqtt-publish-scope": True,
    "listen-udp": True,
    "listen-tcp": True,
    "kernel-player": True,
    "kernel-player-media": True,
    "redis-num-threads": True,
    "redis-expires": True,
    "redis-format": True,
    "redis-allowed-errors": True,
    "redis-disable-time": True,
    "redis-cmd-timeout": True,
    "redis-connect-timeout": True,
    "redis-resolve-on-reconnect": False,
    "active-switchover": False,
    "no-redis-required": False,
    "subscribe-keyspace": True,
    "redis-subscribe": True,
    "redis-write": True,
    "redis": True,
    "sip-source": False,
    "dtls-cert": True,
    "dtls-key": True,
    "log-name": True,
    "nftables-chain": True,
    "nftables-base-chain": True,
    "nftables-append": False,
    "nftables-family": True,
    "nftables-start": False,
    "nftables-stop": False,
    "bgcolor": True,
}

#: rtpengine's short options for ignored options (``-t -1`` in rtpengine's own test harness).
IGNORED_SHORT_OPTIONS: dict[str, str] = {"-t": "table", "-F": "no-fallback", "-u": "listen-udp",
                                         "-l": "listen-tcp", "-T": "tos", "-g": "graphite",
                                         "-G": "graphite-interval", "-b": "b2b-url",
                                         "-x": "xmlrpc-format", "-r": "redis", "-w": "redis-write",
                                         "-k": "subscribe-keyspace", "-q": "no-redis-required"}
