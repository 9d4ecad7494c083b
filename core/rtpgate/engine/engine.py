"""The engine object: the calls table, port pools, timers, and ending calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..counters import CLOSE_REASONS, Stats
from ..media.dtls import DtlsOptions, make_certificate
from ..media.relay import Relay
from .callrelay import CallRelay
from .codec_support import CodecSupport
from .dtmflog import DtmfLog, parse_destination
from .dtmftrigger import DtmfTriggers
from .interfaces import Interfaces
from .limits import LoadMonitor
from .model import PS_RTP, Call, Endpoint
from .ports import MediaSocket
from .sdes import SrtpPipelines
from .store import CallStore
from .timers import Sweeper
from .trickle import FragmentQueue
from .webrtc import WebrtcPipelines

if TYPE_CHECKING:
    from .hooks import EngineHooks
    from .playback import MediaPlayers
    from .settings import EngineSettings

log = logging.getLogger("rtpgate.engine")


@dataclass(frozen=True, slots=True)
class PoolStatus:
    """One local address's media port range, as the CLI and metrics report it."""

    name: str
    address: str
    min: int
    max: int
    used: int
    free: int
    last: int


@dataclass(frozen=True, slots=True)
class EngineStatistics:
    """Current values for ``list numsessions``, ng ``statistics`` and ``/metrics``."""

    own: int
    foreign: int
    media_streams: int
    interfaces: tuple[PoolStatus, ...]
def _every_call(call_id: str) -> bool:
    return True


class Engine:
    """See the package docstring (:mod:`rtpgate.engine`) for what others may use."""

    def __init__(self, settings: EngineSettings, stats: Stats, hooks: EngineHooks) -> None:
        #: The settings, live: a change made while running (the CLI's ``set``) applies.
        self.settings = settings
        #: The server's counters (:mod:`rtpgate.counters`).
        self.stats = stats
        self.hooks = hooks
        self.interfaces = Interfaces(settings.interface, settings.port_min, settings.port_max)
        #: The calls table: call-id -> call, in creation order.
        self.by_id: dict[str, Call] = {}
        #: Whether this process owns a call-id: with several workers (``--num-threads``) only
        #: those hashing to it, which is what a persistence plugin restores here.
        self.owns: Callable[[str], bool] = _every_call
        #: With several workers: the other workers' own calls and bandwidth, asked before a
        #: new call is admitted (:mod:`rtpgate.workers.load`); ``None`` with one worker.
        self.siblings_load: Callable[[], Awaitable[tuple[int, float]]] | None = None
        #: This process's loop-protection marker (``a=rtpengine:<id>``).
        self.instance_id = secrets.token_hex(6)
        #: The DTLS certificate of every DTLS-SRTP stream (``a=fingerprint``), made at startup.
        self.certificate = make_certificate(DtlsOptions(
            cert_cipher=settings.dtls_cert_cipher, rsa_key_size=settings.dtls_rsa_key_size,
            signature=settings.dtls_signature, ciphers=settings.dtls_ciphers,
            mtu=settings.dtls_mtu))
        self.load = LoadMonitor()
        #: Trickle-ICE fragments that came before their party's offer or answer.
        self.fragments = FragmentQueue()
        self.sweeper = Sweeper(self)
        #: The media relay (:mod:`rtpgate.media`): ``relay.sync(call)`` after signalling or
        #: media control changed a call.
        # SRTP relayed as it is where keys pass unchanged, unless the DTMF log reads it
        self.relay = CallRelay(Relay(stats), factories=[SrtpPipelines(
            lambda: self.dtmf_log.active)])
        self.relay.factories.append(WebrtcPipelines(self.relay, self.certificate,
                                                    settings.software_id))
        self.relay.changed = self.changed
        dtmf_log = settings.dtmf_log_dest
        #: ``--dtmf-log-dest`` and plugins' listeners (``dtmf_log.listeners``): reads the
        #: party's events before media plugins change them.
        self.dtmf_log = DtmfLog(parse_destination(dtmf_log) if dtmf_log else None)
        self.relay.factories.append(self.dtmf_log)
        #: ``block DTMF`` with ``trigger``: watches the party's events, before media plugins.
        self.relay.factories.append(DtmfTriggers(self))
        #: What media plugins can decode and encode (``rtpgate_media_codecs``).
        self.codec_support = CodecSupport()
        self.codec_support.add(hooks.media_codecs())
        self.relay.factories += hooks.media_pipeline()
        #: The media player (``rtpgate_media_players``), if a plugin has one.
        self.players: MediaPlayers | None = next(iter(hooks.media_players()), None)
        self._task: asyncio.Task[None] | None = None
        #: The call-state store a persistence plugin set up (see :mod:`.store`), or None.
        self.store: CallStore | None = None

    # ------------------------------------------------------------------ reading

    def calls(self) -> list[Call]:
        return list(self.by_id.values())

    def call(self, call_id: str) -> Call | None:
        return self.by_id.get(call_id)

    @property
    def sharded(self) -> bool:
        """Other workers own some call-ids (``--num-threads`` above one, :attr:`owns` set)."""
        return self.owns is not _every_call

    def sessions(self) -> tuple[int, int]:
        """(own, foreign) calls now, deletion-marked ones included as rtpengine counts them."""
        foreign = sum(1 for call in self.by_id.values() if call.foreign)
        return len(self.by_id) - foreign, foreign

    def media_streams(self) -> int:
        """RTP streams of current calls that have received media (all relaying is userspace)."""
        return sum(1 for call in self.by_id.values() for ml in call.monologues
                   for media in ml.medias for ps in media.streams
                   if ps.flags & PS_RTP and ps.stats_in.packets)

    def port_pools(self) -> list[PoolStatus]:
        return [PoolStatus(local.name, local.address, local.pool.min, local.pool.max,
                           local.pool.used_count, local.pool.free, local.pool.last)
                for local in self.interfaces.addresses]

    def statistics(self) -> EngineStatistics:
        own, foreign = self.sessions()
        return EngineStatistics(own, foreign, self.media_streams(), tuple(self.port_pools()))

    def is_local(self, endpoint: Endpoint) -> bool:
        """Whether ``endpoint`` is one of our own media ports (rtpengine's loop check)."""
        for local in self.interfaces.addresses:
            if local.address == endpoint.address and endpoint.port in local.pool.used:
                return True
        return False

    # ------------------------------------------------------------------ changing

    def set_ownership(self, foreign: bool) -> None:
        """Mark every call foreign or own (the CLI's ``active``/``standby``).  Calls taken
        over start relaying (:meth:`take_over`)."""
        for call in list(self.by_id.values()):
            if foreign:
                if not call.foreign:
                    call.foreign = True
                    self.changed(call)
            elif call.foreign:
                self.take_over(call)

    def take_over(self, call: Call) -> None:
        """Make a foreign call this node's own: it is relayed from now on, its timeouts count
        from now (rtpengine's "ignore timeout until we have media"), and the change is
        announced so that it is persisted as ours."""
        if not call.foreign or call.ended:
            return
        now = time.time()
        call.foreign = False
        call.last_signal = now
        for stream in call.streams():
            stream.last_packet = now
        self.changed(call)  # first: a persistence plugin may still have ports to bind
        self.relay.sync(call)
        log.info("call %s taken over (now own)", call.call_id)

    def add(self, call: Call) -> None:
        self.by_id[call.call_id] = call

    def restore(self, call: Call) -> bool:
        """Put a call rebuilt from persisted state into the calls table; its streams' sockets
        were bound with :meth:`bind_port`.  An own call is relayed at once; a foreign one is
        only kept (not relayed, not timed out) until it is taken over or dropped.  False (and
        nothing changes) when a call with that call-id exists already."""
        if call.call_id in self.by_id:
            return False
        self.by_id[call.call_id] = call
        if not call.foreign:
            self.relay.sync(call)
        return True

    def forget(self, call: Call) -> None:
        """Drop a foreign call (its owner deleted it, or its keyspace was unsubscribed): ports
        released, not counted as a call of ours, no :func:`rtpgate_call_ended`."""
        if call.ended:
            return
        call.ended = True
        if self.by_id.get(call.call_id) is call:
            del self.by_id[call.call_id]
        call.release()

    def bind_port(self, interface: str, family: str, index: int, port: int
                  ) -> MediaSocket | None:
        """Bind exactly ``port`` on the ``index``-th local address of the logical interface
        ``interface``/``family`` (restoring a persisted call on the ports its peers know).
        None: no such interface or address, or the port is taken (by another process, or by
        the node that still owns the call)."""
        logical = self.interfaces.find(interface, family)
        if logical is None or not 0 <= index < len(logical.addresses):
            return None
        local = logical.addresses[index]
        return local.pool.take(port, local)

    def changed(self, call: Call) -> None:
        """Announce that ``call`` changed (:func:`rtpgate.hookspecs.rtpgate_call_changed`)."""
        self.hooks.call_changed(call)  # a plugin's failure is logged, the command goes on

    def end(self, call: Call, reason: str) -> None:
        """Remove ``call``, release its ports and count it as ended for ``reason``
        (one of :data:`rtpgate.counters.CLOSE_REASONS`)."""
        if reason not in CLOSE_REASONS:
            raise ValueError(f"unknown close reason {reason!r}")
        if call.ended:
            return
        call.ended = True
        if self.by_id.get(call.call_id) is call:
            del self.by_id[call.call_id]
        self._count(call, reason)
        call.release()
        log.debug("call %s ended (%s)", call.call_id, reason)
        self.hooks.call_ended(call)

    async def terminate(self, call: Call, reason: str = "force_terminated") -> None:
        """End ``call`` now (the CLI's ``terminate``)."""
        self.end(call, reason)

    def _count(self, call: Call, reason: str) -> None:
        stats = self.stats
        stats.call_ended(reason, max(0.0, time.time() - call.created))
        totals = stats.totals
        medias: dict[int, list[int]] = {}
        for ml in call.monologues:
            for media in ml.medias:
                if media.streams:
                    medias.setdefault(media.index, []).append(media.streams[0].stats_in.packets)
        for counts in medias.values():
            if len(counts) < 2:
                continue
            received = sum(1 for packets in counts if packets)
            if received == 0:
                totals.zero_way_streams += 1
            elif received < len(counts):
                totals.one_way_streams += 1

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        """Between :meth:`start` and :meth:`stop` (its timers run)."""
        return self._task is not None

    async def start(self) -> None:
        """Restore persisted calls (:func:`rtpgate.hookspecs.rtpgate_calls_restore`), then
        start the timers (the ``rtpgate_startup`` hook)."""
        await self.hooks.calls_restore()  # a plugin's failure is logged, the others run
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.sweeper.run())

    async def stop(self) -> None:
        """Stop the timers and release every call's ports (the ``rtpgate_shutdown`` hook)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for call in list(self.by_id.values()):
            call.ended = True
            call.release()
        self.by_id.clear()
        self.interfaces.close()
        self.dtmf_log.close()
