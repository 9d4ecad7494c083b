"""rtpengine's command tree (``HANDLER_START`` tables of ``daemon/cli.c``, newest) as data, in
rtpengine's order, with its ``params`` and help texts (typos included: "maxmimum").

Left out, as in an rtpengine built without transcoding: ``media ...`` and
``call <callid> tag <tag> delay|detect-dtmf``.
"""

from __future__ import annotations

from ..tree import CliCommand, CliContext
from . import calls, params, redis, settings, stats


def _usage(ctx: CliContext, args: str) -> None:
    ctx.write(ctx.tree.usage())


def _commands() -> list[CliCommand]:
    c = CliCommand
    cmds = [c(("usage",), _usage, None, "print the full list of all available commands"),
            c(("list",))]
    lists = (
        ("numsessions", calls.list_numsessions, "", "print the number of sessions"),
        ("sessions", calls.list_sessions, "<callid> | all | own | foreign",
         "list sessions, or print details or one session"),
        ("totals", stats.list_totals, None, "print total statistics"),
        ("counters", stats.list_counters, None, "print per-second counters"),
        ("maxopenfiles", settings.list_maxopenfiles, None,
         "print the number of allowed open files"),
        ("maxsessions", settings.list_maxsessions, None, "print the number of allowed sessions"),
        ("maxcpu", settings.list_maxcpu, None, "print maxmimum CPU usage allowed"),
        ("maxload", settings.list_maxload, None, "print maxmimum load average allowed"),
        ("maxbw", settings.list_maxbw, None, "print maxmimum bandwidth usage average allowed"),
        ("timeout", settings.list_timeout, None, "print timeout parameter"),
        ("silenttimeout", settings.list_silenttimeout, None, "print silent-timeout parameter"),
        ("offertimeout", settings.list_offertimeout, None, "print offer-timeout parameter"),
        ("finaltimeout", settings.list_finaltimeout, None, "print final-timeout parameter"),
        ("loglevels", settings.list_loglevels, None, "list available log levels"),
        ("loglevel", settings.list_loglevel, "[<system>]",
         "print all current log levels, or one log level"),
        ("redisallowederrors", redis.list_redis("redis-allowed-errors"), None,
         "print redis-allowed-errors parameter"),
        ("redisdisabletime", redis.list_redis("redis-disable-time"), None,
         "print redis-disable-time parameter"),
        ("redisconnecttimeout", redis.list_redis("redis-connect-timeout"), None,
         "print redis-connect-timeout parameter"),
        ("rediscmdtimeout", redis.list_redis("redis-cmd-timeout"), None,
         "print redis-cmd-timeout parameter"),
        ("controltos", settings.list_controltos, None, "print control-tos parameter"),
        ("deletedelay", settings.list_deletedelay, None, "print delete-delay parameter"),
        ("interfaces", stats.list_interfaces, None, "print local interface/port statistics"),
        ("jsonstats", stats.list_jsonstats, None, "print total statistics in JSON format"),
        ("transcoders", stats.list_transcoders, None, "print transcoding statistics"),
    )
    cmds += [c(("list", name), handler, p, h) for name, handler, p, h in lists]
    cmds.append(c(("terminate",), calls.terminate, "<callid> | all | own | foreign",
                  "terminate one particular call, or all (owned/foreign) calls"))
    cmds.append(c(("set",)))
    sets = (
        ("maxopenfiles", settings.set_maxopenfiles, "<uint>",
         "set the max number of allowed open files"),
        ("maxsessions", settings.set_maxsessions, "<int>",
         "set the max number of allowed sessions"),
        ("maxcpu", settings.set_maxcpu, "<float>", "set maxmimum CPU usage allowed"),
        ("maxload", settings.set_maxload, "<float>", "set maxmimum load average allowed"),
        ("maxbw", settings.set_maxbw, "<uint>", "set maxmimum bandwidth usage average allowed"),
        ("timeout", settings.set_timeout, "<uint>", "set the --timeout parameter"),
        ("silenttimeout", settings.set_silenttimeout, "<uint>",
         "set the --silent-timeout parameter"),
        ("offertimeout", settings.set_offertimeout, "<uint>",
         "set the --offer-timeout parameter"),
        ("finaltimeout", settings.set_finaltimeout, "<uint>",
         "set the --final-timeout parameter"),
        ("loglevel", settings.set_loglevel, "<uint> | <sys> <uint>",
         "set one or all log levels to new value (1-7)"),
        ("redisallowederrors", redis.set_redis("redis-allowed-errors"), "<int>",
         "set the --redis-allowed-errors parameter"),
        ("redisdisabletime", redis.set_redis("redis-disable-time"), "<uint>",
         "set the --redis-disable-time parameter"),
        ("redisdisable", redis.set_redisdisable, "0 | 1", "toggle disable writing to Redis"),
        ("redisconnecttimeout", redis.set_redis("redis-connect-timeout"), "<uint>",
         "set the --redis-connect-timeout parameter"),
        ("rediscmdtimeout", redis.set_redis("redis-cmd-timeout"), "<uint>",
         "set the --redis-cmd-timeout parameter"),
        ("controltos", settings.set_controltos, "<uint>", "set the --control-tos parameter"),
        ("deletedelay", settings.set_deletedelay, "<uint>", "set the --delete-delay parameter"),
    )
    cmds += [c(("set", name), handler, p, h) for name, handler, p, h in sets]
    cmds.append(c(("get",), same_as=("list",)))
    cmds.append(c(("params",)))
    cmds += [
        c(("params", "start"), params.params_start, None,
          "print initial startup configuration values"),
        c(("params", "current"), params.params_current, None,
          "print current configuration values"),
        c(("params", "diff"), params.params_diff, None,
          "print difference between current and initial config"),
        c(("params", "revert"), params.params_revert, None,
          "revert config options to startup values"),
        c(("ksadd",), redis.ksadd, "<uint>", "subscribe to 'keyspace' database"),
        c(("ksrm",), redis.ksrm, "<uint>",
          "unsubscribe to 'keyspace' database and remove all foreign calls for that "
          "'keyspace'"),
        c(("kslist",), redis.kslist, None, "print all currently subscribed keyspaces"),
        c(("active",), calls.active, None, "set all running sessions to 'owned'"),
        c(("standby",), calls.standby, None, "set all running sessions to 'foreign'"),
        c(("debug",), calls.debug, "<callid> on | off", "set debugging flag for given call"),
        c(("call",), calls.call, "<callid> <option>"),
        c(("call", "info"), calls.call_info_command, None, "print details of given call"),
        c(("call", "terminate"), calls.call_terminate, None, "terminate given call"),
        c(("call", "debug"), calls.call_debug, "on | off", "toggle debugging for given call"),
        c(("call", "tag"), calls.call_tag, "<tag> <option>"),
        c(("call", "tag", "info"), calls.tag_info_command, None,
          "print details of given call party"),
    ]
    return cmds


#: The built-in commands, in the order ``help`` and ``usage`` list them.
BUILTIN: tuple[CliCommand, ...] = tuple(_commands())
