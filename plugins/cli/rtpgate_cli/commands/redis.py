"""The Redis commands.  rtpgate has no Redis: the ``list``/``set`` ones say so, and the keyspace
and ``set redisdisable`` ones answer what rtpengine answers when Redis is not configured."""

from __future__ import annotations

from ..cparse import strtol
from ..tree import MORE_PARAMETERS, CliContext

NOT_CONFIGURED = "Redis is not configured.\n"
NO_KEYSPACES = "Keyspace notification feature has not been configured.\n"


def list_redis(ctx: CliContext, args: str) -> None:
    ctx.write(NOT_CONFIGURED)


def set_redis(ctx: CliContext, args: str) -> None:
    ctx.write(NOT_CONFIGURED if args else MORE_PARAMETERS)


def set_redisdisable(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    disable = int(strtol(args).value)
    if disable < 0:
        ctx.write(f"Invalid redis-disable value {disable}, must be >= 0\n")
    else:
        ctx.write("No redis write to disable\n" if disable else "No redis write to re-enable\n")


def keyspaces(ctx: CliContext, args: str) -> None:
    ctx.write(NO_KEYSPACES)
