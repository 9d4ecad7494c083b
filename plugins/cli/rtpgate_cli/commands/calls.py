"""Commands on calls: ``list numsessions|sessions``, ``terminate``, ``debug``, ``call ...``,
``active``/``standby``.  Formats are rtpengine's newest (``cli_list_call_info`` and friends)."""

from __future__ import annotations

import ipaddress

from .. import callviews
from ..callviews import CallView, MonologueView
from ..tree import MORE_PARAMETERS, CliContext

SESSION_FILTERS = ("all", "own", "foreign", "recording")


def _yn(flag: bool, yes: str = "yes", no: str = "no") -> str:
    return yes if flag else no


def _family(call: CallView) -> set[int]:
    return {ipaddress.ip_address(stream.local_address).version
            for ml in call.monologues for media in ml.medias for stream in media.streams}


def list_numsessions(ctx: CliContext, args: str) -> None:
    calls = list(callviews.calls(ctx.runtime))
    foreign = sum(1 for call in calls if call.foreign)
    families = [_family(call) for call in calls]
    ctx.write(f"Current sessions own: {len(calls) - foreign}\n"
              f"Current sessions foreign: {foreign}\n"
              f"Current sessions total: {len(calls)}\n"
              "Current transcoded media: 0\n"
              f"Current sessions ipv4 only media: {families.count({4})}\n"
              f"Current sessions ipv6 only media: {families.count({6})}\n"
              f"Current sessions ip mixed  media: {families.count({4, 6})}\n")


def list_sessions(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    if args not in SESSION_FILTERS:
        call = callviews.find(ctx.runtime, args)
        if call is None:
            ctx.write(f"\nCall ID not found ({args}).\n\n")
        else:
            ctx.write(call_info(call))
        return
    found = False
    for call in callviews.calls(ctx.runtime):
        if ((args == "own" and call.foreign) or (args == "foreign" and not call.foreign)
                or (args == "recording" and not call.recording)):
            continue
        found = True
        ctx.write(f"ID: {call.call_id:>60} | del:{_yn(call.deleted, 'y', 'n')} | "
                  f"creat:{int(call.created):12d} | prx:{call.created_from} | "
                  f"redis:{call.redis_keyspace:2d} | frgn:{_yn(call.foreign, 'y', 'n')} | "
                  f"rec:{_yn(call.recording, 'y', 'n')}\n")
    if not found:
        which = "" if args == "all" else f"{args} "
        ctx.write(f"No {which}sessions on this media relay.\n")


def call_info(call: CallView) -> str:
    """``list sessions <callid>`` and ``call <callid> info``."""
    head = (f"\ncallid: {call.call_id}\ndeletionmark: {_yn(call.deleted)}\n"
            f"created: {int(call.created)}\nproxy: {call.created_from}\ntos: {call.tos}\n"
            f"last_signal: {int(call.last_signal)}\nredis_keyspace: {call.redis_keyspace}\n"
            f"last redis update: {call.last_redis_update}\nforeign: {_yn(call.foreign)}\n"
            f"recording: {_yn(call.recording)}\n\n")
    return head + "".join(tag_info(ml) for ml in call.monologues) + "\n"


def tag_info(ml: MonologueView) -> str:
    seconds = int(ml.duration)
    micros = round((ml.duration - seconds) * 1_000_000)
    lines = [f"--- Tag '{ml.tag}', type: {ml.tag_type}, label '{ml.label}', "
             f"branch '{ml.via_branch}', callduration {seconds}.{micros:06d}\n"]
    if ml.aliases:
        # rtpengine prints the first alias twice (its loop starts at the head again)
        lines.append(f"---     Aliases: '{ml.aliases[0]}'"
                     + "".join(f", '{alias}'" for alias in ml.aliases) + "\n")
    lines += [f"---     subscribed to media with monologue tag '{tag}' (index: {index})\n"
              for tag, index in ml.subscriptions]
    lines += [f"---     subscription of media with monologue tag '{tag}' (index: {index})\n"
              for tag, index in ml.subscribers]
    for media in ml.medias:
        lines.append(f"------ Media #{media.index} ({media.type} over "
                     f"{media.protocol or '(unknown)'}) using {media.codec or 'unknown codec'}\n")
        for s in media.streams:
            lines.append(f"-------- Port {s.local_address:>15}:{s.local_port:<5} <> "
                         f"{s.remote_address:>15}:{s.remote_port:<5}"
                         f"{' (RTCP)' if s.rtcp_only else ''}, SSRC {s.ssrc:x}, "
                         f"{s.packets} p, {s.bytes} b, {s.errors} e, {s.last_packet} uts "
                         f"{s.last_kernel_packet} kts\n")
    return "".join(lines)


async def terminate(ctx: CliContext, args: str) -> None:
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    groups = {"all": ("All calls", None), "own": ("All own calls", False),
              "foreign": ("All foreign calls", True)}
    if args in groups:
        label, foreign = groups[args]
        for each in callviews.calls(ctx.runtime):
            if foreign is None or each.foreign == foreign:
                await callviews.terminate(ctx.runtime, each)
        ctx.write(f"{label} terminated by operator.\n")
        return
    call = callviews.find(ctx.runtime, args)
    if call is None:
        ctx.write(f"\nCall Id not found ({args}).\n\n")
        return
    await callviews.terminate(ctx.runtime, call)
    ctx.write(f"\nCall Id ({args}) successfully terminated by operator.\n\n")


def _debug_flag(ctx: CliContext, call: CallView, flag_text: str) -> None:
    if flag_text in ("", "on", "enable"):
        flag = True
    elif flag_text in ("off", "disable"):
        flag = False
    else:
        ctx.write(f"Invalid on/off flag ('{flag_text}') specified\n")
        return
    callviews.set_debug(call, flag)
    ctx.write(f"{'Enabled' if flag else 'Disabled'} debugging for call '{call.call_id}'\n")


def debug(ctx: CliContext, args: str) -> None:
    call_id, _, flag_text = args.partition(" ")
    if not call_id:
        ctx.write("No call ID specified\n")
        return
    if flag_text not in ("", "on", "enable", "off", "disable"):
        ctx.write(f"Invalid on/off flag ('{flag_text}') specified\n")
        return
    call = callviews.find(ctx.runtime, call_id)
    if call is None:
        ctx.write(f"Call ID '{call_id}' not found\n")
        return
    _debug_flag(ctx, call, flag_text)


async def call(ctx: CliContext, args: str) -> None:
    """``call <callid> <option>``: finds the call, then runs the option on it."""
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    call_id, _, rest = args.partition(" ")
    if not call_id:
        ctx.write("No call ID specified\n")
        return
    found = callviews.find(ctx.runtime, call_id)
    if found is None:
        ctx.write(f"No such call '{call_id}'\n")
        return
    ctx.call = found
    if not rest:
        ctx.write("Incomplete command: \n")
        return
    await ctx.subcommands(rest)


def _selected(ctx: CliContext) -> CallView:
    """The call ``call <callid>`` found, for its sub-commands."""
    assert ctx.call is not None, "a call sub-command outside 'call <callid>'"
    return ctx.call


def call_info_command(ctx: CliContext, args: str) -> None:
    ctx.write(call_info(_selected(ctx)))


async def call_terminate(ctx: CliContext, args: str) -> None:
    call = _selected(ctx)
    ctx.write(f"\nCall '{call.call_id}' terminated.\n\n")
    await callviews.terminate(ctx.runtime, call)


def call_debug(ctx: CliContext, args: str) -> None:
    _debug_flag(ctx, _selected(ctx), args)


async def call_tag(ctx: CliContext, args: str) -> None:
    """``call <callid> tag <tag> <option>``."""
    if not args:
        ctx.write(MORE_PARAMETERS)
        return
    tag, _, rest = args.partition(" ")
    if not tag:
        ctx.write("No tag specified\n")
        return
    monologue = next((ml for ml in _selected(ctx).monologues if ml.tag == tag), None)
    if monologue is None:
        ctx.write(f"No such tag '{tag}'\n")
        return
    if not rest:
        ctx.write("Incomplete command: \n")
        return
    ctx.monologue = monologue
    await ctx.subcommands(rest)


def tag_info_command(ctx: CliContext, args: str) -> None:
    assert ctx.monologue is not None, "a tag sub-command outside 'call <callid> tag <tag>'"
    ctx.write(tag_info(ctx.monologue))


def active(ctx: CliContext, args: str) -> None:
    callviews.set_foreign(ctx.runtime, False)
    ctx.write("Ok, all calls set to 'owned (active)'\n")


def standby(ctx: CliContext, args: str) -> None:
    callviews.set_foreign(ctx.runtime, True)
    ctx.write("Ok, all calls set to 'foreign (standby)'\n")
