"""The call engine: calls, monologues, medias and streams; SDP rewriting; media ports; timers.

The engine is ``runtime.engine`` (an :class:`~rtpgate.engine.engine.Engine`, created by
:func:`rtpgate.boot.boot` as ``Engine(settings, stats, hooks)``: the typed, live view of the
settings it reads (:class:`~rtpgate.engine.settings.EngineSettings`), the server's counters and
the engine-side hooks (:class:`~rtpgate.engine.hooks.EngineHooks`, which the plugin host
provides); it holds no runtime).  It serves the ng commands ``offer``, ``answer``, ``delete``,
``query``, ``list``, ``start/stop/pause recording``, ``start/stop forwarding``,
``block/unblock DTMF``, ``block/unblock media``, ``silence/unsilence media``, ``publish``,
``subscribe request``, ``subscribe answer``, ``unsubscribe`` and ``connect``
(:data:`rtpgate.engine.commands.COMMANDS`), and runs on the server's event loop only.

What the CLI, metrics and relay code may use (names are stable):

``engine.by_id``
    The calls table: ``dict[call-id, Call]`` in creation order (deletion-marked calls included
    until their delete-delay has passed).  ``engine.calls()`` lists them; ``engine.call(id)``
    finds one.
``engine.sessions()`` -> ``(own, foreign)``; ``engine.media_streams()``
    Current counts (rtpengine counts deletion-marked calls too).
``engine.statistics()`` -> :class:`~rtpgate.engine.engine.EngineStatistics`
    ``own``, ``foreign``, ``media_streams`` and ``interfaces``: one
    :class:`~rtpgate.engine.engine.PoolStatus` (``name``, ``address``, ``min``, ``max``,
    ``used``, ``free``, ``last``) per local interface address; also ``engine.port_pools()``.
``await engine.terminate(call, reason="force_terminated")``; ``engine.end(call, reason)``
    End a call now: its ports are released and it is counted once with
    ``runtime.stats.call_ended(reason, duration)`` (``reason`` from
    :data:`rtpgate.counters.CLOSE_REASONS`).  Its relayed counters are added to the totals.
``engine.set_ownership(foreign)``
    Mark every call foreign or own.
``engine.relay``
    The media relay's :class:`~rtpgate.engine.callrelay.CallRelay`; the engine calls
    ``relay.sync(call)`` after every change of a call's streams (docs/media.md).
``engine.interfaces``
    :class:`~rtpgate.engine.interfaces.Interfaces`: ``logical`` interfaces by name and family,
    each with ``addresses`` (:class:`~rtpgate.engine.interfaces.LocalAddress`: ``name``,
    ``family``, ``address``, ``advertised``, ``pool``).

The model (:mod:`rtpgate.engine.model`):

``Call``
    ``call_id``, ``created`` / ``last_signal`` (``time.time()``), ``proxy`` (``ip:port`` of the
    first offer's control client), ``monologues``, ``deleted_at`` / ``deletion_mark``,
    ``foreign``, ``recording`` (a :class:`~rtpgate.engine.model.Recording` once recording or
    forwarding was asked for), ``media_control``, ``debug``.
``Monologue``
    ``tag`` ("" until answered), ``unique_id``, ``created``, ``label``, ``via_branch``,
    ``aliases``, ``peers`` (offer/answer partners it sends to), ``associates`` (every party it
    was in a dialogue with: forking), ``deleted_at`` (a delete of this party alone, pending),
    ``sources`` (pub/sub: what it subscribed
    to; ``call.subscribers(ml)`` the other way), ``kind``, ``medias``, ``control``
    (:class:`~rtpgate.engine.model.MediaControl`: block media/DTMF, silence), ``forwarding``.
``Media``
    ``index``, ``type``, ``protocol``, ``flags`` (``MF_*``), ``ptime``, ``payload_types``,
    ``streams``, ``source`` (pub/sub: the media it receives a copy of), ``label``.
``Stream`` (what the relay works with)
    ``component`` (1 RTP, 2 RTCP, ...), ``flags`` (``PS_*``; the relay sets ``PS_CONFIRMED``),
    ``selected`` and ``sockets`` (:class:`~rtpgate.engine.ports.MediaSocket`: ``sock`` is the
    bound non-blocking UDP socket, ``local``, ``port``; ``sock`` is None for a port-0
    placeholder), ``endpoint`` (where to send, an :class:`~rtpgate.engine.model.Endpoint`),
    ``advertised``, ``last_packet`` (the relay sets ``time.time()`` on each packet; the
    timeouts read it), ``stats_in`` / ``stats_out`` (:class:`~rtpgate.engine.model.Counters`:
    ``packets``, ``bytes``, ``errors``; the relay adds to them).  The peer's stream of the same
    media and component is the usual destination: ``stream.media.monologue.peers``.

Nothing here is thread-safe; the relay runs on the same loop.
"""

from .engine import Engine, EngineStatistics, PoolStatus

__all__ = ["Engine", "EngineStatistics", "PoolStatus"]
