"""The plugin host: finds plugins through entry points and calls their hooks one plugin at a time.

Each entry point of the group ``rtpgate`` is imported and registered on its own.  A plugin that
fails to import, register or validate (a misspelt hook name is caught by ``check_pending``) is
recorded with its name, version and error and left out; the others load.  Contribution hooks are
called per plugin too (:meth:`PluginHost.collect`), so one plugin raising there does not take the
others down.
"""

from __future__ import annotations

import functools
import importlib.metadata
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "rtpgate"


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
        self.pm.add_hookspecs(hookspecs)
        self.allow = {name for name in allow if name}
        self.deny = {name for name in deny if name}
        self.records: dict[str, PluginRecord] = {}
        #: Entry-point names of every installed plugin, loaded or not.
        self.installed: set[str] = set()

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
            self.register(plugin, ep.name, dist, version)

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
                 version: str = "") -> bool:
        """Register one plugin object and validate its hook implementations."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._failed(name, distribution, version, exc)
            return False
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            self._failed(name, distribution, version, exc)
            return False
        self.records[name] = PluginRecord(name, distribution or name, version, "loaded")
        return True

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

    def calls(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Callable[[], Any]]]:
        """One ``(plugin name, zero-argument call)`` per implementation of ``hook_name``, in
        registration order, so the caller decides what a failure of one plugin means."""
        hook = getattr(self.pm.hook, hook_name)
        return [(impl.plugin_name,
                 functools.partial(impl.function, **{n: kwargs[n] for n in impl.argnames}))
                for impl in hook.get_hookimpls()]

    def collect(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call a contribution hook plugin by plugin and yield ``(plugin name, item)`` for each
        item of each returned iterable.  A plugin whose hook raises is marked failed."""
        for plugin_name, call in self.calls(hook_name, **kwargs):
            try:
                result = call()
                items = list(result) if result is not None else []
            except Exception as exc:
                self.fail(plugin_name, exc)
                continue
            for item in items:
                yield plugin_name, item

    def describe(self, name: str, line: str) -> None:
        """Record something a plugin provides, for ``rtpgate plugins``."""
        record = self.records.get(name)
        if record is not None:
            record.provides.append(line)

    @property
    def failures(self) -> list[PluginRecord]:
        return [r for r in self.records.values() if r.status == "failed"]
