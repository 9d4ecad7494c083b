"""``list``/``set`` of the running configuration, and ``params``.

Texts, parsing and validation order follow rtpengine's ``daemon/cli.c`` (newest): all four
timeout setters say "timeout", ``set controltos`` reports "redis-connect-timeout" (a copy-paste
slip in rtpengine that scripts may match on), ``maxcpu``/``maxload`` keep two decimals.
"""

from __future__ import annotations

import errno
import math
import os
import resource

from ..cparse import INT_MAX, atoi, strtod, strtol, strtoul
from ..tree import MORE_PARAMETERS, CliContext, Handler
from ..values import LOG_SYSTEMS, NotSettable, assign, current

MIN_OPEN_FILES = 1 << 16


# ---------------------------------------------------------------------- list

def list_maxsessions(ctx: CliContext, args: str) -> None:
    ctx.write(f"Maximum sessions configured on rtpengine: {current(ctx.runtime, 'max_sessions')}\n")


def list_maxcpu(ctx: CliContext, args: str) -> None:
    ctx.write(f"Maximum CPU usage configured on rtpengine: {current(ctx.runtime, 'max_cpu'):.1f}\n")


def list_maxload(ctx: CliContext, args: str) -> None:
    ctx.write("Maximum load average configured on rtpengine: "
              f"{current(ctx.runtime, 'max_load'):.2f}\n")


def list_maxbw(ctx: CliContext, args: str) -> None:
    ctx.write("Maximum bandwidth configured on rtpengine: "
              f"{current(ctx.runtime, 'max_bandwidth')}\n")


def list_maxopenfiles(ctx: CliContext, args: str) -> None:
    pid = os.getpid()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    value = "infinite" if soft == resource.RLIM_INFINITY else str(soft)
    ctx.write(f"Maximum open-files configured on rtpengine: {value}; cat /proc/{pid}/limits\n")


def _lister(field: str, fmt: str) -> Handler:
    def handler(ctx: CliContext, args: str) -> None:
        ctx.write(fmt.format(current(ctx.runtime, field)))
    return handler


list_timeout = _lister("timeout", "TIMEOUT={}\n")
list_silenttimeout = _lister("silent_timeout", "SILENT_TIMEOUT={}\n")
list_offertimeout = _lister("offer_timeout", "OFFER_TIMEOUT={}\n")
list_finaltimeout = _lister("final_timeout", "FINAL_TIMEOUT={}\n")
list_deletedelay = _lister("delete_delay", "{}\n")
list_controltos = _lister("control_tos", "{}\n")


def list_loglevels(ctx: CliContext, args: str) -> None:
    ctx.write("".join(f"{name} - {descr}\n" for name, descr in LOG_SYSTEMS))


def list_loglevel(ctx: CliContext, args: str) -> None:
    levels = ctx.log_levels.now
    if args:
        ctx.write("".join(f"{level}\n" for name, level in levels.items() if name == args))
    else:
        ctx.write("".join(f"{name} = {level}\n" for name, level in levels.items()))


# ---------------------------------------------------------------------- set

def _set(ctx: CliContext, field: str, value: object, what: str, arg: str) -> bool:
    try:
        assign(ctx.runtime, field, value)
    except NotSettable as exc:
        ctx.write(f"Fail setting {what} to {arg}; {exc}\n")
        return False
    return True


def set_maxopenfiles(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    parsed = strtoul(args)
    number = int(parsed.value)
    if parsed.errno:
        ctx.write(f"Fail setting open_files to {args}; errno={parsed.errno}\n")
    elif not parsed.digits:
        ctx.write(f"Fail setting open_files to {args}; no digits found\n")
    elif number < MIN_OPEN_FILES:
        ctx.write(f"Fail setting open_files to {number}; can't set it under {MIN_OPEN_FILES}\n")
    else:
        try:  # rtpengine sets the soft and the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (number, number))
        except (OSError, ValueError) as exc:
            code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EINVAL
            ctx.write(f"Fail setting open_files to {number}; errno = {code}\n")
            return
        ctx.write(f"Success setting open_files to {number}; cat /proc/{os.getpid()}/limits\n")


def set_maxsessions(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    parsed = strtol(args)
    number = int(parsed.value)
    if parsed.errno:
        ctx.write(f"Fail setting maxsessions to {args}; errno={parsed.errno}\n")
    elif not parsed.digits:
        ctx.write(f"Fail setting maxsessions to {args}; no digits found\n")
    elif number < -1:
        ctx.write(f"Fail setting maxsessions to {number}; either positive or -1 values allowed\n")
    elif _set(ctx, "max_sessions", number, "maxsessions", args):
        suffix = "; disable feature" if number == -1 else ""
        ctx.write(f"Success setting maxsessions to {number}{suffix}\n")


def _float_setter(field: str, what: str, fmt: str) -> Handler:
    def handler(ctx: CliContext, args: str) -> None:
        if not args:
            ctx.write(MORE_PARAMETERS)
            return
        parsed = strtod(args)
        if parsed.errno or not math.isfinite(parsed.value):
            ctx.write(f"Fail setting {what} to {args}; errno={parsed.errno}\n")
        elif not parsed.digits:
            ctx.write(f"Fail setting {what} to {args}; no digits found\n")
        # rtpengine keeps hundredths (an int of value * 100)
        elif _set(ctx, field, int(parsed.value * 100) / 100, what, args):
            ctx.write(f"Success setting {what} to {parsed.value:{fmt}}\n")
    return handler


set_maxcpu = _float_setter("max_cpu", "maxcpu", ".1f")
set_maxload = _float_setter("max_load", "maxload", ".2f")


def set_maxbw(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    parsed = strtoul(args)
    if parsed.errno:
        ctx.write(f"Fail setting maxbw to {args}; errno={parsed.errno}\n")
    elif not parsed.digits:
        ctx.write(f"Fail setting maxbw to {args}; no digits found\n")
    elif _set(ctx, "max_bandwidth", int(parsed.value), "maxbw", args):
        ctx.write(f"Success setting maxbw to {int(parsed.value)}\n")


def _timeout_setter(field: str) -> Handler:
    """rtpengine's ``cli_incoming_set_gentimeout``: every timeout answers as "timeout"."""
    def handler(ctx: CliContext, args: str) -> None:
        if not args:
            ctx.write(MORE_PARAMETERS)
            return
        parsed = strtol(args)
        number = int(parsed.value)
        if parsed.errno or number < 0 or number >= INT_MAX:
            ctx.write(f"Fail setting timeout to {args}; errno={parsed.errno}\n")
        elif not parsed.digits:
            ctx.write(f"Fail setting timeout to {args}; no digits found\n")
        elif _set(ctx, field, number, "timeout", args):
            ctx.write(f"Success setting timeout to {number}\n")
    return handler


set_timeout = _timeout_setter("timeout")
set_silenttimeout = _timeout_setter("silent_timeout")
set_offertimeout = _timeout_setter("offer_timeout")
set_finaltimeout = _timeout_setter("final_timeout")


def set_loglevel(ctx: CliContext, args: str) -> None:
    """``set loglevel <uint>`` or ``set loglevel <system> <uint>``; a first word that does not
    start with a digit is the system (so ``set loglevel -1`` asks for more, as in rtpengine)."""
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    system = None
    if not args[0].isdigit():
        system, _, args = args.partition(" ")
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    level = atoi(args)
    ctx.log_levels.set(level, system)
    ctx.write(f"Success setting loglevel to {level}\n")


def set_controltos(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    tos = int(strtol(args).value)
    if tos < 0 or tos > 255:
        ctx.write(f"Invalid control-tos value {tos}, must be between 0 and 255\n")
    elif _set(ctx, "control_tos", tos, "control-tos", args):
        ctx.write(f"Success setting redis-connect-timeout to {tos}\n")


def set_deletedelay(ctx: CliContext, args: str) -> None:
    """rtpengine's ``str_to_i(instr, -1)``: -1 (or no number) is refused."""
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    parsed = strtol(args)
    seconds = int(parsed.value) if parsed.digits else -1
    if seconds == -1:
        ctx.write("Invalid delete-delay value\n")
    elif _set(ctx, "delete_delay", seconds, "delete-delay", args):
        ctx.write(f"Success setting delete-delay to {seconds}\n")
