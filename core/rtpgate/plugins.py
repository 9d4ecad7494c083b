"""The plugin host: finds plugins through entry points and calls their hooks through pluggy.

Each entry point of the group ``rtpgate`` is imported and registered on its own.  A plugin that
fails to import, register or validate (a misspelt hook name is caught by ``check_pending``) is
recorded with its name, version and error and left out; the others load.

Hooks are called through pluggy's own hook caller, so its order and semantics hold: the most
recently registered implementation runs first (core registers first, so its implementations run
last unless marked ``tryfirst``), ``tryfirst``/``trylast`` move an implementation to the front or
back, ``wrapper=True`` implementations wrap the others, ``firstresult`` stops at the first result
and call monitoring (``pm.add_hookcall_monitoring``) sees every call.  On top of that, every
plain implementation is *guarded* when it is registered: during a contribution or shutdown call,
one that raises (or whose awaitable raises) is reported and left out, and the others still run.
Wrappers are not guarded: a wrapper that raises fails the call, as in pluggy.  (pluggy itself
stops a call at the first exception; guarding each implementation where it is registered is
the one way to keep its order and semantics and still isolate plugins from each other.)
"""

from __future__ import annotations

import functools
import importlib.metadata
import inspect
import logging
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs

if TYPE_CHECKING:
    from .engine.callrelay import PipelineFactory
    from .engine.codec_support import CodecCapability
    from .engine.hooks import EngineHooks
    from .engine.model import Call
    from .engine.playback import MediaPlayers
    from .ngcommands.command import NgCommand
    from .options import Option
    from .protocol import Protocol, Transport
    from .runtime import Runtime

ENTRY_POINT_GROUP = "rtpgate"

log = logging.getLogger("rtpgate.plugins")


@dataclass(frozen=True)
class Subcommand:
    """A word after ``rtpgate``.  ``run`` gets the arguments after the word and the plugin host
    (plugins already loaded) and returns the exit status."""

    name: str
    help: str
    run: Callable[[list[str], PluginHost], int]


@dataclass
class PluginRecord:
    """What the host knows about one plugin, loaded or not."""

    name: str
    distribution: str
    version: str
    #: ``loaded``, ``failed`` or ``disabled`` (by the allow or deny list).
    status: str
    error: str = ""
    provides: list[str] = field(default_factory=list)


class PluginHost:
    """Wraps a pluggy ``PluginManager`` for the ``rtpgate`` project."""

    def __init__(self, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        #: The modules of hook specifications: core's, then those plugins added.
        self.hookspec_modules: list[ModuleType] = []
        self.add_hookspecs(hookspecs)
        self.allow = {name for name in allow if name}
        self.deny = {name for name in deny if name}
        self.records: dict[str, PluginRecord] = {}
        #: Entry-point names of every installed plugin, loaded or not.
        self.installed: set[str] = set()
        self._current: _HookCall | None = None
        # every plugin registered from now on is asked for the hooks it owns
        self.pm.hook.rtpgate_addhooks.call_historic(kwargs={"host": self})

    def add_hookspecs(self, module: ModuleType) -> None:
        """Add a module of hook specifications (a plugin's, from ``rtpgate_addhooks``)."""
        self.pm.add_hookspecs(module)
        self.hookspec_modules.append(module)

    def unknown_names(self) -> dict[str, list[str]]:
        """Allow/deny entries that name no installed plugin (nor core, nor a ``--plugin``
        module): ``{"allow": [...], "deny": [...]}``, empty lists when all are known."""
        known = self.installed | set(self.records)
        return {"allow": sorted(self.allow - known), "deny": sorted(self.deny - known)}

    # ------------------------------------------------------------------ loading

    def load_entry_points(self) -> None:
        """Import and register every installed plugin, each on its own."""
        seen = self.installed
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                         key=lambda e: e.name):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if (self.allow and ep.name not in self.allow) or ep.name in self.deny:
                self.records[ep.name] = PluginRecord(ep.name, dist, version, "disabled")
                continue
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin is reported, never fatal
                self._failed(ep.name, dist, version, exc)
                continue
            self.register(plugin, ep.name, dist, version, check=False)
        # checked once all are in: a plugin may implement a hook another one adds
        self._check_pending()

    def load_module(self, module_name: str) -> None:
        """Import and register a plugin module named on the command line (``--plugin``)."""
        version = "(--plugin)"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            self._failed(module_name, module_name, version, exc)
            return
        self.register(module, module_name, module_name, version)

    def register(self, plugin: ModuleType | object, name: str, distribution: str = "",
                 version: str = "", check: bool = True) -> bool:
        """Register one plugin object and (``check``) validate its hook implementations: one
        that names no known hook (and is not ``optionalhook``) fails the plugin.  What pluggy
        registers is a :class:`_GuardedPlugin` of it."""
        guarded = None
        try:
            if any(isinstance(p, _GuardedPlugin) and p.plugin is plugin
                   for p in self.pm.get_plugins()):
                raise ValueError(f"plugin {plugin!r} is already registered")
            guarded = _GuardedPlugin(self, plugin, name)
            self.pm.register(guarded, name=name)
        except Exception as exc:  # also a failing rtpgate_addhooks, called by register
            if guarded is not None and self.pm.is_registered(guarded):
                self.pm.unregister(guarded)
            self._failed(name, distribution, version, exc)
            return False
        self.records[name] = PluginRecord(name, distribution or name, version, "loaded")
        if check:
            self._check_pending()
        return self.records[name].status == "loaded"

    def _check_pending(self) -> None:
        """Fail (and unregister) each plugin with an implementation of no known hook."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                self.pm.unregister(exc.plugin)
                record = self.records.get(name)
                self._failed(name, record.distribution if record else name,
                             record.version if record else "", exc)

    def _failed(self, name: str, distribution: str, version: str, exc: BaseException) -> None:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.records[name] = PluginRecord(name, distribution, version, "failed", error)

    def fail(self, name: str, exc: BaseException) -> None:
        """Mark a loaded plugin as failed (a contribution hook raised) and unregister it."""
        record = self.records.get(name)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self._failed(name, record.distribution if record else name,
                     record.version if record else "", exc)

    # ------------------------------------------------------------------ calling

    def _call(self, hook_name: str, deferred: bool, kwargs: dict[str, Any]
              ) -> tuple[list[Any], _HookCall]:
        call = _HookCall(deferred)
        outer, self._current = self._current, call
        try:
            results = getattr(self.pm.hook, hook_name)(**kwargs)
        finally:
            self._current = outer
        return results, call

    def collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a contribution hook and return ``(plugin name, item)`` for each item of each
        returned iterable, in hook order.  A plugin whose implementation raises, or returns
        something that is not iterable, is marked failed (and unregistered); the others count."""
        results, call = self._call(hook_name, False, kwargs)
        items: list[tuple[str, Any]] = []
        for result in results:
            plugin_name = call.owner(result)
            try:
                contributed = list(result)
            except Exception as exc:
                call.errors.append((plugin_name, exc))
                continue
            items += [(plugin_name, item) for item in contributed]
        failed = {name for name, _ in call.errors}
        for plugin_name, error in call.errors:
            self.fail(plugin_name, error)
        return [(name, item) for name, item in items if name not in failed]

    async def run(self, hook_name: str, isolated: bool, **kwargs: Any
                  ) -> list[tuple[str, BaseException]]:
        """Call a lifecycle hook and await what it returned, one implementation after the other
        in hook order.  Each implementation runs (and its awaitable is awaited) only when the
        one before it has finished.  ``isolated``: a failing implementation is returned as
        ``(plugin name, exception)`` and the others still run; otherwise the first failure
        is raised and the rest do not run."""
        results, call = self._call(hook_name, True, kwargs)
        started = 0
        try:
            for step in results:
                started += 1
                if inspect.isawaitable(step):
                    await step
                if call.errors and not isolated:
                    raise call.errors[0][1]
        finally:
            for never_started in results[started:]:
                if inspect.iscoroutine(never_started):
                    never_started.close()
        return call.errors

    # ------------------------------------------------------------------ the hooks, typed

    # One method per hook of hookspecs.py, so a caller's misspelt hook is a type error.
    # Contributions come as ``(plugin name, item)`` in hook order.

    def options(self) -> list[tuple[str, Option]]:
        return self.collect("rtpgate_options")

    def protocols(self, runtime: Runtime) -> list[tuple[str, Protocol]]:
        return self.collect("rtpgate_protocols", runtime=runtime)

    def transports(self, runtime: Runtime) -> list[tuple[str, Transport]]:
        return self.collect("rtpgate_transports", runtime=runtime)

    def ng_commands(self, runtime: Runtime) -> list[tuple[str, NgCommand]]:
        return self.collect("rtpgate_ng_commands", runtime=runtime)

    def subcommands(self) -> list[tuple[str, Subcommand]]:
        return self.collect("rtpgate_subcommands")

    async def startup(self, runtime: Runtime) -> None:
        """Run every ``rtpgate_startup`` in hook order; the first failure is raised."""
        await self.run("rtpgate_startup", isolated=False, runtime=runtime)

    async def shutdown(self, runtime: Runtime) -> list[tuple[str, BaseException]]:
        """Run every ``rtpgate_shutdown`` in hook order, each whatever the others did; returns
        the failures."""
        return await self.run("rtpgate_shutdown", isolated=True, runtime=runtime)

    # the engine's hooks (see engine_hooks)

    def media_codecs(self, runtime: Runtime) -> list[tuple[str, CodecCapability]]:
        return self.collect("rtpgate_media_codecs", runtime=runtime)

    def media_pipeline(self, runtime: Runtime) -> list[tuple[str, PipelineFactory]]:
        return self.collect("rtpgate_media_pipeline", runtime=runtime)

    def media_players(self, runtime: Runtime) -> list[tuple[str, MediaPlayers]]:
        return self.collect("rtpgate_media_players", runtime=runtime)

    def call_changed(self, runtime: Runtime, call: Call) -> None:
        """Run every ``rtpgate_call_changed``; one that raises is logged (the plugin stays:
        one bad call must not cost it every later one), the others still run."""
        self.notify("rtpgate_call_changed", runtime, call)

    def call_ended(self, runtime: Runtime, call: Call) -> None:
        """Run every ``rtpgate_call_ended``, as :meth:`call_changed`."""
        self.notify("rtpgate_call_ended", runtime, call)

    async def calls_restore(self, runtime: Runtime) -> None:
        """Run every ``rtpgate_calls_restore`` in hook order, each whatever the others did;
        a failure is logged."""
        for name, exc in await self.run("rtpgate_calls_restore", isolated=True,
                                        runtime=runtime):
            log.error("restoring calls failed (plugin %s)", name, exc_info=exc)

    def notify(self, hook_name: str, runtime: Runtime, call: Call) -> None:
        """Call a hook that tells about ``call``; failures are logged, no plugin is failed."""
        _, done = self._call(hook_name, False, {"runtime": runtime, "call": call})
        for name, exc in done.errors:
            log.error("%s failed for call %s (plugin %s)", hook_name, call.call_id, name,
                      exc_info=exc)

    def engine_hooks(self, runtime: Runtime) -> EngineHooks:
        """The engine's hooks with ``runtime`` bound (what :class:`rtpgate.engine.Engine`
        takes)."""
        return _EngineHooks(self, runtime)

    def describe(self, name: str, line: str) -> None:
        """Record something a plugin provides, for ``rtpgate plugins``."""
        record = self.records.get(name)
        if record is not None:
            record.provides.append(line)

    @property
    def failures(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "failed"]


@dataclass(frozen=True)
class _EngineHooks:
    """:class:`rtpgate.engine.hooks.EngineHooks` over a host, for one runtime."""

    host: PluginHost
    runtime: Runtime

    def call_changed(self, call: Call) -> None:
        self.host.call_changed(self.runtime, call)

    def call_ended(self, call: Call) -> None:
        self.host.call_ended(self.runtime, call)

    async def calls_restore(self) -> None:
        await self.host.calls_restore(self.runtime)

    def media_codecs(self) -> Sequence[CodecCapability]:
        return [cap for _, cap in self.host.media_codecs(self.runtime)]

    def media_pipeline(self) -> Sequence[PipelineFactory]:
        return [factory for _, factory in self.host.media_pipeline(self.runtime)]

    def media_players(self) -> Sequence[MediaPlayers]:
        return [player for _, player in self.host.media_players(self.runtime)]


class _GuardedPlugin:
    """What pluggy registers for a plugin: an object with the plugin's hook implementations,
    each plain one wrapped by :func:`_guarded` (wrappers as they are), marked with the plugin's
    own hookimpl options."""

    def __init__(self, host: PluginHost, plugin: object, plugin_name: str) -> None:
        self.plugin = plugin
        marker = f"{ENTRY_POINT_GROUP}_impl"
        for attr in dir(plugin):
            opts = host.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            function = getattr(plugin, attr)
            if not (opts.get("wrapper") or opts.get("hookwrapper")):
                function = _guarded(host, plugin_name, function)
                setattr(function, marker, opts)
            setattr(self, attr, function)

    def __repr__(self) -> str:
        return f"<guarded {self.plugin!r}>"


@dataclass
class _HookCall:
    """One hook call through the guarded implementations: who returned what, and what failed.

    ``deferred`` (lifecycle hooks): an implementation is not run when pluggy calls it but
    returned as a coroutine that runs it (and awaits its result) when awaited, so
    :meth:`PluginHost.run` runs each one only after the one before it has finished."""

    deferred: bool
    errors: list[tuple[str, BaseException]] = field(default_factory=list)
    owners: dict[int, tuple[str, object]] = field(default_factory=dict)

    def owner(self, result: object) -> str:
        """The plugin that returned ``result`` (``?`` for a result a wrapper made up)."""
        found = self.owners.get(id(result))
        return found[0] if found is not None and found[1] is result else "?"


def _guarded(host: PluginHost, plugin_name: str, function: Callable[..., Any]
             ) -> Callable[..., Any]:
    """``function`` as called by pluggy, reporting to the host's current call.  Outside a call
    made by the host (``pm.hook.<name>(...)`` directly) it behaves exactly like ``function``."""

    @functools.wraps(function)
    def guarded(*args: Any) -> Any:
        call = host._current
        if call is None:
            return function(*args)
        if call.deferred:
            return _deferred(call, plugin_name, function, args)
        try:
            result = function(*args)
        except Exception as exc:
            call.errors.append((plugin_name, exc))
            return None
        if result is not None:
            call.owners[id(result)] = (plugin_name, result)
        return result

    return guarded


async def _deferred(call: _HookCall, plugin_name: str, function: Callable[..., Any],
                    args: tuple[Any, ...]) -> None:
    try:
        result = function(*args)
        if inspect.isawaitable(result):
            await result
    except Exception as exc:
        call.errors.append((plugin_name, exc))
