"""Every hook the core owns.  Each docstring is that hook's reference documentation
(``docs/hooks.md`` is generated from them, and from the hooks installed plugins add with
:func:`rtpgate_addhooks`; a test fails when a hook is undocumented or untested).

A plugin is a module or object with functions decorated ``@rtpgate.hookimpl`` whose names match
these specs, published under the entry-point group ``rtpgate``::

    [project.entry-points.rtpgate]
    myplugin = "my_package.plugin"

Hooks that *contribute* things (options, protocols, transports, ng commands, ...) are called once
per plugin at startup and must not do I/O: ``rtpgate plugins`` calls them without starting a
server.  Work that needs the event loop goes into :func:`rtpgate_startup`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .engine.callrelay import PipelineFactory
    from .engine.codec_support import CodecCapability
    from .engine.model import Call
    from .engine.playback import MediaPlayers
    from .ngcommands.command import NgCommand
    from .options import Option
    from .plugins import PluginHost, Subcommand
    from .protocol import Protocol, Transport
    from .runtime import Runtime

hookspec = pluggy.HookspecMarker("rtpgate")


@hookspec(historic=True)
def rtpgate_addhooks(host: PluginHost) -> None:
    """Add the hooks this plugin owns, as pytest's ``pytest_addhooks``: call
    ``host.add_hookspecs(module)`` with a module of functions marked ``@rtpgate.api.hookspec``
    (the CLI plugin's ``rtpgate_cli_commands`` and the metrics plugin's
    ``rtpgate_metrics_collectors`` are added this way, each typed with the plugin's own types).

    Called once for each plugin as it is registered.  The owner calls its own hook with
    ``host.collect(name, ...)``, ideally behind one typed function.  Another plugin implements
    such a hook with ``@hookimpl(optionalhook=True)``, so that it loads whether or not the owner
    is installed, and in whatever order the two are registered.
    """


@hookspec
def rtpgate_options() -> Iterable[Option]:
    """Declare configuration options.

    Return :class:`rtpgate.api.Option` values.  Each becomes a field of the one settings model
    (``runtime.settings.<name_with_underscores>``), a command-line option ``--<name>``, a key of
    the INI file's section and an environment variable ``RTPGATE_<NAME>``.  Use rtpengine's option
    name where rtpengine has the option.  Declaring a name that another plugin already declared is
    an error reported for the later plugin.
    """


@hookspec
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    """Contribute protocols: transport-free services (see :class:`rtpgate.api.Protocol`).

    Called once, after settings are loaded; ``runtime.settings`` holds every option.  A route,
    subprotocol or listener option claimed by two protocols is a conflict: the later one is
    reported and left out.
    """


@hookspec
def rtpgate_transports(runtime: Runtime) -> Iterable[Transport]:
    """Contribute transports: what carries messages between sockets and protocols (see
    :class:`rtpgate.api.Transport`).  A transport must not name protocols; it serves
    whatever they declare."""


@hookspec
def rtpgate_startup(runtime: Runtime) -> Awaitable[None] | None:
    """Called on the event loop once every transport is listening.  May return an awaitable,
    which is awaited before the server reports itself ready.

    Implementations run one after the other in pluggy's hook order (the plugin registered last
    first; ``tryfirst``/``trylast`` move one), each only once the one before it has finished,
    awaitable included.  Core's own implementation is ``tryfirst`` and starts the engine, so the
    engine runs during every plugin's startup.  An exception aborts startup: the later
    implementations do not run and the server stops.
    """


@hookspec
def rtpgate_shutdown(runtime: Runtime) -> Awaitable[None] | None:
    """Called on the event loop when the server stops (SIGTERM, SIGINT), after transports have
    stopped accepting.  May return an awaitable.

    Implementations run one after the other in pluggy's hook order, as for
    :func:`rtpgate_startup`.  Core's own implementation is ``trylast`` and stops the engine
    (releasing its calls), so the engine and its calls are still there during every plugin's
    shutdown.  An exception is logged and does not stop the other plugins' shutdown.
    """


@hookspec
def rtpgate_subcommands() -> Iterable[Subcommand]:
    """Contribute sub-commands of the ``rtpgate`` command (``rtpgate NAME ARGS...``).

    Return :class:`rtpgate.api.Subcommand` values.  ``run(args, host)`` gets the words after the
    name and the :class:`rtpgate.api.PluginHost` with every plugin loaded; it returns the exit
    status.  Core contributes ``plugins`` and ``options`` this way.
    """


@hookspec
def rtpgate_ng_commands(runtime: Runtime) -> Iterable[NgCommand]:
    """Contribute ng protocol commands (see :class:`rtpgate.api.NgCommand`).

    Each command is a name (plus aliases), rtpengine's short name for statistics, a pydantic
    request model derived from :class:`rtpgate.api.NgRequest` (its JSON Schema is published
    by ``rtpgate ng-schema``) and an async handler ``(request, ctx) -> dict | None`` that raises
    :class:`rtpgate.api.NgError` for an error reply.  Every ng transport (``/ng``,
    ``/ng-plain``, WebSocket, UDP, TCP) reaches every command.  Registering a name twice is an
    error at startup.
    """


@hookspec
def rtpgate_call_changed(runtime: Runtime, call: Call) -> None:
    """The engine changed ``call`` (a :class:`rtpgate.engine.model.Call`): an offer or answer
    was committed, a party was deleted or the call marked for deletion, media control,
    recording or forwarding changed, or its ownership changed (the CLI's ``active``/``standby``,
    a takeover).  Called on the event loop right after the change and *before* the ng reply
    is sent, so an implementation must not block or do I/O there: note the call and do the
    work in a task (this is how call-state persistence keeps Redis out of the reply's latency).
    Not called for foreign calls' own changes made by the plugin that keeps them.  An
    implementation that raises is logged and the others still run; the command goes on and the
    plugin stays loaded (the engine calls this through the host's typed ``call_changed``).
    """


@hookspec
def rtpgate_call_ended(runtime: Runtime, call: Call) -> None:
    """``call`` has left the engine (deleted, timed out, terminated, or dropped at shutdown is
    *not* included: a stopping server keeps its calls where they are persisted).  Its ports are
    released already; ``call.foreign`` says whose it was.  Same rules as
    :func:`rtpgate_call_changed`: no blocking, no I/O in the call itself.
    """


@hookspec
def rtpgate_calls_restore(runtime: Runtime) -> Awaitable[None] | None:
    """Rebuild calls kept elsewhere (call-state persistence) into the engine at startup.

    Called once on the event loop when the engine starts, after the transports are listening
    and before its timers run; the awaitable it may return is awaited before the server reports
    itself ready.  Use :meth:`rtpgate.engine.engine.Engine.restore` for each call.  A failure is
    logged and does not stop the server (calls that could not be restored are simply not there);
    the other plugins' implementations still run, one after the other in hook order.
    """


@hookspec
def rtpgate_media_codecs(runtime: Runtime) -> Iterable[CodecCapability]:
    """Declare the codecs this plugin's media stages can decode and encode.

    Return :class:`rtpgate.engine.codec_support.CodecCapability` values.  Codec negotiation adds
    a ``codec-transcode`` codec to an offer only when some plugin can both decode and encode it,
    and transcodes towards an offerer only into a codec that can be encoded; a codec declared
    with ``encode=False`` can be received, never offered as sendable.  Without any declaration
    every request that needs transcoding is refused.  Called once, when the engine is built;
    must not do I/O.
    """


@hookspec
def rtpgate_media_pipeline(runtime: Runtime) -> Iterable[PipelineFactory]:
    """Contribute factories of media pipeline stages (see :mod:`rtpgate.media.pipeline`).

    Each factory is called as ``factory(stream, current)`` for every engine stream whenever the
    engine syncs a call with the relay (after offer, answer, media control) and returns a
    :class:`rtpgate.media.pipeline.Pipeline` part, or ``None`` when it has nothing for that
    stream, which keeps a plain stream on the relay's fast path.  ``current`` is the stream's
    pipeline now: reuse stages whose parameters did not change so their state survives.  Keep
    per-media state in ``stream.media.plugin_state`` under your plugin's name.  Called once,
    when the engine is built; must not do I/O.
    """


@hookspec
def rtpgate_media_players(runtime: Runtime) -> Iterable[MediaPlayers]:
    """Contribute the media player behind ``play media``, ``stop media`` and ``play silence``
    (see :mod:`rtpgate.engine.playback`).

    The first one contributed is used; without any, those commands answer "Media playback not
    supported".  Called once, when the engine is built; must not do I/O.
    """
