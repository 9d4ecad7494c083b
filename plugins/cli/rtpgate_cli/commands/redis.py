"""The Redis commands.  Without a call-state store (``runtime.engine.store``, set by a
persistence plugin such as rtpgate-redis) the ``list``/``set`` ones say so, and the keyspace and
``set redisdisable`` ones answer what rtpengine answers when Redis is not configured; with one,
they read and change its settings and keyspaces as rtpengine's do."""

from __future__ import annotations

from collections.abc import Callable

from rtpgate.api import CallStore

from ..cparse import strtol
from ..tree import MORE_PARAMETERS, CliContext
from ..values import assign, current

NOT_CONFIGURED = "Redis is not configured.\n"
NO_KEYSPACES = "Keyspace notification feature has not been configured.\n"
Handler = Callable[[CliContext, str], None]


def _store(ctx: CliContext) -> CallStore | None:
    return ctx.runtime.engine.store


def list_redis(option: str) -> Handler:
    """``list <name>``: the value of ``--<option>``."""

    def handle(ctx: CliContext, args: str) -> None:
        if _store(ctx) is None:
            ctx.write(NOT_CONFIGURED)
        else:
            ctx.write(f"{current(ctx.runtime, option.replace('-', '_'))}\n")

    return handle


def set_redis(option: str) -> Handler:
    """``set <name> N``: change ``--<option>`` (read by the store at each use)."""

    def handle(ctx: CliContext, args: str) -> None:
        if not args:
            ctx.write(MORE_PARAMETERS)
        elif _store(ctx) is None:
            ctx.write(NOT_CONFIGURED)
        else:
            value = int(strtol(args).value)
            assign(ctx.runtime, option.replace("-", "_"), value)
            ctx.write(f"Success setting {option} to {value}\n")

    return handle


def set_redisdisable(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    disable = int(strtol(args).value)
    store = _store(ctx)
    if disable < 0:
        ctx.write(f"Invalid redis-disable value {disable}, must be >= 0\n")
    elif store is None or store.writes_disabled == bool(disable):
        ctx.write("No redis write to disable\n" if disable else "No redis write to re-enable\n")
    else:
        store.disable_writes(bool(disable))
        ctx.write("Success disable redis write\n" if disable else
                  "Success re-enable redis write\n")


def _notifying(ctx: CliContext) -> CallStore | None:
    """The store, when it follows keyspace notifications; otherwise says so."""
    store = _store(ctx)
    if store is None or not store.notifying:
        ctx.write(NO_KEYSPACES)
        return None
    return store


def _keyspace(ctx: CliContext, args: str, verb: str) -> tuple[CallStore, int] | None:
    """``ksadd``'s and ``ksrm``'s checks: the store and the keyspace number, or None (said)."""
    store = _notifying(ctx)
    if store is None:
        return None
    if not args:
        ctx.write(MORE_PARAMETERS)
        return None
    parsed = strtol(args)
    if not parsed.digits or parsed.value < 0:
        ctx.write(f"Fail {verb} keyspace {args} to redis notifications; no digists found\n")
        return None
    return store, int(parsed.value)


def ksadd(ctx: CliContext, args: str) -> None:
    found = _keyspace(ctx, args, "adding")
    if found is None:
        return
    store, db = found
    if store.subscribe(db):
        ctx.write(f"Success adding keyspace {db} to redis notifications.\n")
    else:
        ctx.write(f"Keyspace {db} is already among redis notifications.\n")


def ksrm(ctx: CliContext, args: str) -> None:
    found = _keyspace(ctx, args, "removing")
    if found is None:
        return
    store, db = found
    if store.unsubscribe(db):
        ctx.write(f"Successfully unsubscribed from keyspace {db}.\n"
                  f"Successfully removed all foreign calls for keyspace {db}.\n")
    else:
        ctx.write(f"Keyspace {db} is not among redis notifications.\n")


def kslist(ctx: CliContext, args: str) -> None:
    store = _notifying(ctx)
    if store is None:
        return
    ctx.write("\nSubscribed-on keyspaces:\n" + "".join(f"{db} " for db in store.keyspaces())
              + "\n")
