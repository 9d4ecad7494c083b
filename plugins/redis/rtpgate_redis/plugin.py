"""Entry point of the redis plugin: rtpengine's ``--redis*`` options, and the engine hooks that
keep call state in Redis (see :mod:`.store` and :mod:`.keyspace`).  Without ``--redis`` the
plugin does nothing."""

from __future__ import annotations

from collections.abc import Iterable

from rtpgate import api as c

from .keyspace import Keyspaces
from .options import OPTIONS, RedisAddress, RedisSettings, parse_address
from .store import RedisStore

hookimpl = c.hookimpl


def _store(runtime: c.Runtime) -> RedisStore | None:
    """The server's store, made on first use (the engine asks for restore before the
    plugins' startup hooks run)."""
    engine = runtime.engine
    store = engine.store
    if isinstance(store, RedisStore):
        return store
    settings = runtime.settings.view(RedisSettings)
    if not settings.redis:
        return None
    read = parse_address(settings.redis, "RTPENGINE_REDIS_AUTH_PW")
    write: RedisAddress = read
    if settings.redis_write:
        write = parse_address(settings.redis_write, "RTPENGINE_REDIS_WRITE_AUTH_PW")
    store = RedisStore(runtime, read, write)
    keyspaces = settings.subscribe_keyspace
    if keyspaces or settings.redis_subscribe:
        notify = read
        if settings.redis_subscribe:
            notify = parse_address(settings.redis_subscribe,
                                   "RTPENGINE_REDIS_SUBSCRIBE_AUTH_PW", db_required=False)
        store.keyspace = Keyspaces(store, notify, list(keyspaces))
    engine.store = store
    return store


@hookimpl
def rtpgate_options() -> Iterable[c.Option]:
    return OPTIONS


@hookimpl
async def rtpgate_calls_restore(runtime: c.Runtime) -> None:
    store = _store(runtime)
    if store is not None:
        await store.restore()


@hookimpl
def rtpgate_startup(runtime: c.Runtime) -> None:
    store = _store(runtime)
    if store is not None:
        store.start()


@hookimpl
async def rtpgate_shutdown(runtime: c.Runtime) -> None:
    store = runtime.engine.store
    if isinstance(store, RedisStore):
        await store.stop()


@hookimpl
def rtpgate_call_changed(runtime: c.Runtime, call: c.Call) -> None:
    store = runtime.engine.store
    if isinstance(store, RedisStore):
        if store.keyspace is not None:
            store.keyspace.on_own(call)
        store.changed(call)


@hookimpl
def rtpgate_call_ended(runtime: c.Runtime, call: c.Call) -> None:
    store = runtime.engine.store
    if isinstance(store, RedisStore):
        store.ended(call)


@hookimpl(optionalhook=True)  # the metrics plugin's hook: loads without rtpgate-metrics too
def rtpgate_metrics_collectors(runtime: c.Runtime) -> Iterable[object]:
    from .metrics import RedisCollector

    return [RedisCollector(runtime)]
