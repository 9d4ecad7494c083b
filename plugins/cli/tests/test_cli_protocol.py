"""The CLI protocol called directly (core and this plugin installed): the parser, the texts of
every command family, the tree hook, the ng ``cli`` command and the TCP line framer."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
import re
import resource
from pathlib import Path

import pytest
import rtpgate_cli.plugin
from cli_helpers import Run, make_calls, make_runtime, protocol_of, runner
from rtpgate.api import Call, Message, Runtime, hookimpl
from rtpgate_cli.cparse import strtod, strtol, strtoul
from rtpgate_cli.ctl import target
from rtpgate_cli.protocol import line_framer
from rtpgate_cli.tree import CliCommand, CliContext

TOP_HELP = (
    "Available sub-commands at this level:\n"
    "\tusage                                            : print the full list of all available"
    " commands\n"
    "\tlist <option>\n"
    "\tterminate <callid> | all | own | foreign         : terminate one particular call, or all"
    " (owned/foreign) calls\n"
    "\tset <option>\n\tget <option>\n\tparams <option>\n"
    "\tksadd <uint>                                     : subscribe to 'keyspace' database\n")


def test_declares_its_addresses(engine_runtime: Runtime) -> None:
    protocol = protocol_of(engine_runtime)
    assert [(r.method, r.path, r.prefix, r.content_types) for r in protocol.http_routes] == [
        ("GET", "/cli/", True, ()), ("POST", "/cli", False, ("text/plain",))]
    assert protocol.ws_subprotocol == "cli.rtpengine.com"
    (listener,) = protocol.listeners
    assert (listener.option, listener.close_after_reply, listener.max_buffer) == (
        "listen_cli", True, 1024)


def test_published_under_the_rtpgate_entry_point_group() -> None:
    points = {ep.name: ep for ep in importlib.metadata.entry_points(group="rtpgate")}
    assert points["cli"].load() is rtpgate_cli.plugin


# ---------------------------------------------------------------------- parser

def test_help_at_the_top_level_pads_help_texts_to_column_50(bare: Run) -> None:
    out = bare("help")
    assert out.startswith(TOP_HELP)
    assert out.endswith("\tcall <callid> <option>\n")
    assert "\tnumsessions" not in out


def test_help_of_a_group_lists_its_sub_commands(bare: Run) -> None:
    lines = bare("list help").splitlines()
    assert lines[0] == "Available sub-commands at this level:"
    assert lines[1] == "\tnumsessions " + " " * 37 + ": print the number of sessions"
    assert [line.split()[0] for line in lines[1:]] == [
        "numsessions", "sessions", "totals", "counters", "maxopenfiles", "maxsessions", "maxcpu",
        "maxload", "maxbw", "timeout", "silenttimeout", "offertimeout", "finaltimeout",
        "loglevels", "loglevel", "redisallowederrors", "redisdisabletime",
        "redisconnecttimeout", "rediscmdtimeout", "controltos", "deletedelay", "interfaces",
        "jsonstats", "transcoders"]
    assert bare("get help") == bare("list help")
    assert bare("params help") == (
        "Available sub-commands at this level:\n"
        "\tstart                                            : print initial startup"
        " configuration values\n"
        "\tcurrent                                          : print current configuration values\n"
        "\tdiff                                             : print difference between current"
        " and initial config\n"
        "\trevert                                           : revert config options to startup"
        " values\n")


def test_usage_prints_the_whole_tree_indented(bare: Run) -> None:
    out = bare("usage")
    assert out.startswith("    Supported commands are:\n\n    usage ")
    assert "\n\n    list <option>\n        numsessions " in out
    assert "\n    call <callid> <option>\n        info " in out
    assert "\n        tag <tag> <option>\n            info " in out
    assert out.count("        jsonstats ") == 2  # under list and under get
    assert out.endswith("\n\n")


@pytest.mark.parametrize(("line", "expected"), [
    ("", "Incomplete command: \n"),
    ("foo", "Unknown command: foo\n"),
    ("list foo", "Unknown command: foo\n"),
    ("list", "More parameters required.\n"),
    ("list ", "More parameters required.\n"),
    ("set", "More parameters required.\n"),
    ("params", "More parameters required.\n"),
    ("LIST timeout", "Unknown command: LIST\n"),
])
def test_errors_for_unknown_and_incomplete_commands(bare: Run, line: str, expected: str) -> None:
    assert bare(line) == expected


@pytest.mark.parametrize("line", ["list timeout", "list+timeout", "listXtimeout",
                                  "list timeout\n", "list timeout\r\n", "list timeoutX",
                                  "get timeout", "get+timeout"])
def test_what_10_5_accepted_still_selects_the_command(bare: Run, line: str) -> None:
    assert bare(line) == "TIMEOUT=60\n"


def test_prefix_matching_prefers_the_longest_name(bare: Run) -> None:
    assert bare("list+loglevels").startswith("core - Everything")
    assert bare("list+loglevel+core") == "6\n"


def test_post_body_may_end_in_a_newline(bare: Run) -> None:
    assert bare("list maxsessions\n", "http") == "Maximum sessions configured on rtpengine: -1\n"


def test_get_path_is_the_command(engine_runtime: Runtime) -> None:
    reply = asyncio.run(protocol_of(engine_runtime).handle(
        Message(b"", "http", method="GET", path="/cli/list timeout")))
    assert (reply.body, reply.content_type, reply.status) == (b"TIMEOUT=60\n", "text/plain", 200)


# ---------------------------------------------------------------------- values

def test_list_of_the_running_configuration(cli: Run) -> None:
    assert cli("list maxsessions") == "Maximum sessions configured on rtpengine: -1\n"
    assert cli("list maxcpu") == "Maximum CPU usage configured on rtpengine: 0.0\n"
    assert cli("list maxload") == "Maximum load average configured on rtpengine: 0.00\n"
    assert cli("list maxbw") == "Maximum bandwidth configured on rtpengine: 0\n"
    assert cli("list timeout") == "TIMEOUT=60\n"
    assert cli("list silenttimeout") == "SILENT_TIMEOUT=3600\n"
    assert cli("list offertimeout") == "OFFER_TIMEOUT=3600\n"
    assert cli("list finaltimeout") == "FINAL_TIMEOUT=0\n"
    assert cli("list deletedelay") == "30\n"
    assert cli("list controltos") == "0\n"
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert cli("list maxopenfiles") == (
        f"Maximum open-files configured on rtpengine: {soft}; cat /proc/{os.getpid()}/limits\n")


def test_set_changes_the_running_value(cli: Run, engine_runtime: Runtime) -> None:
    settings = engine_runtime.settings
    assert cli("set maxsessions 0") == "Success setting maxsessions to 0\n"
    assert settings.max_sessions == 0  # type: ignore[attr-defined]
    assert cli("list maxsessions") == "Maximum sessions configured on rtpengine: 0\n"
    assert cli("set maxsessions -1") == "Success setting maxsessions to -1; disable feature\n"
    assert cli("set maxsessions -5") == (
        "Fail setting maxsessions to -5; either positive or -1 values allowed\n")
    assert cli("set maxsessions abc") == "Fail setting maxsessions to abc; no digits found\n"
    assert cli("set maxsessions 99999999999999999999") == (
        "Fail setting maxsessions to 99999999999999999999; errno=34\n")
    assert cli("set maxsessions") == "More parameters required.\n"
    assert cli("set maxcpu 1.257") == "Success setting maxcpu to 1.3\n"
    assert settings.max_cpu == 1.25  # type: ignore[attr-defined]
    assert cli("set maxcpu nan") == "Fail setting maxcpu to nan; errno=0\n"
    assert cli("set maxload 2") == "Success setting maxload to 2.00\n"
    assert cli("set maxbw 100") == "Success setting maxbw to 100\n"
    assert cli("list maxbw") == "Maximum bandwidth configured on rtpengine: 100\n"


@pytest.mark.parametrize(("command", "field"), [
    ("timeout", "timeout"), ("silenttimeout", "silent_timeout"),
    ("offertimeout", "offer_timeout"), ("finaltimeout", "final_timeout")])
def test_every_timeout_setter_answers_as_timeout(cli: Run, engine_runtime: Runtime,
                                                 command: str, field: str) -> None:
    assert cli(f"set {command} 77") == "Success setting timeout to 77\n"
    assert getattr(engine_runtime.settings, field) == 77
    assert cli(f"set {command} -1") == "Fail setting timeout to -1; errno=0\n"
    assert cli(f"set {command} x") == "Fail setting timeout to x; no digits found\n"


def test_set_controltos_answers_with_the_redis_text(cli: Run, engine_runtime: Runtime) -> None:
    assert cli("set controltos 184") == "Success setting redis-connect-timeout to 184\n"
    assert engine_runtime.settings.control_tos == 184  # type: ignore[attr-defined]
    assert cli("set controltos 300") == (
        "Invalid control-tos value 300, must be between 0 and 255\n")


def test_set_deletedelay(cli: Run) -> None:
    assert cli("set deletedelay 12") == "Success setting delete-delay to 12\n"
    assert cli("list deletedelay") == "12\n"
    assert cli("set deletedelay abc") == "Invalid delete-delay value\n"


def test_set_refuses_what_validation_refuses(cli: Run) -> None:
    assert cli("set deletedelay -3") == (
        "Fail setting delete-delay to -3; Input should be greater than or equal to 0\n")


def test_set_without_the_option_declared(bare: Run) -> None:
    assert bare("set controltos 7") == (
        "Fail setting control-tos to 7; --control-tos is not available on this server\n")
    assert bare("list controltos") == "0\n"


def test_set_maxopenfiles_limits(cli: Run) -> None:
    assert cli("set maxopenfiles 100") == (
        "Fail setting open_files to 100; can't set it under 65536\n")
    assert cli("set maxopenfiles x") == "Fail setting open_files to x; no digits found\n"


def test_log_levels(cli: Run) -> None:
    assert cli("list loglevel") == "".join(
        f"{name} = {-1 if name == 'internals' else 6}\n" for name in (
            "core", "spandsp", "ffmpeg", "transcoding", "codec", "rtcp", "ice", "crypto",
            "srtp", "internals", "http", "control", "dtx"))
    assert cli("list loglevels").splitlines()[-1] == "dtx - DTX timer/buffer"
    assert cli("set loglevel control 7") == "Success setting loglevel to 7\n"
    assert cli("list loglevel control") == "7\n"
    assert logging.getLogger("rtpgate.ng").level == logging.DEBUG
    assert logging.getLogger("rtpgate").level == logging.INFO
    assert cli("set loglevel 3") == "Success setting loglevel to 3\n"
    assert logging.getLogger("rtpgate.http").level == logging.ERROR
    assert cli("set loglevel -1") == "More parameters required.\n"
    assert cli("params diff").startswith("log-level-core: 6 => 3\n")
    assert cli("params revert") == ""
    assert logging.getLogger("rtpgate.http").level == logging.INFO


def test_params(cli: Run) -> None:
    start = cli("params start")
    assert start.splitlines()[13:16] == ["max_sessions = -1", "timeout = 60",
                                         "silent_timeout = 3600"]
    assert "bw_limit = 0\n[max-cpu = 0.0]\n[max-load = 0.00]\ninterface[0] = default\\127.0.0.1\n" \
        in start
    assert cli("params current") == start
    assert cli("params diff") == ""
    cli("set maxcpu 1.5")
    cli("set timeout 90")
    cli("set offertimeout 10")
    assert cli("params diff") == ("max-cpu: 0 => 150\ntimeout: 60 => 90\n"
                                  "offer-timeout: 3600 => 10\n")
    assert "cpu_limit = 150\n" in cli("params current")
    assert cli("params start") == start
    assert cli("params revert") == ""
    assert cli("params diff") == ""
    assert cli("list timeout") == "TIMEOUT=60\n"


def test_redis_is_not_configured(cli: Run) -> None:
    assert cli("list redisallowederrors") == "Redis is not configured.\n"
    assert cli("set rediscmdtimeout 5") == "Redis is not configured.\n"
    assert cli("set redisdisable 1") == "No redis write to disable\n"
    assert cli("set redisdisable 0") == "No redis write to re-enable\n"
    for command in ("ksadd 1", "ksrm 1", "kslist"):
        assert cli(command) == "Keyspace notification feature has not been configured.\n"


def test_transcoders(cli: Run) -> None:
    assert cli("list transcoders") == "No stats entries\n"


# ---------------------------------------------------------------------- calls

NUMSESSIONS = ("Current sessions own: {own}\nCurrent sessions foreign: {foreign}\n"
               "Current sessions total: {total}\nCurrent transcoded media: 0\n"
               "Current sessions ipv4 only media: {v4}\nCurrent sessions ipv6 only media: {v6}\n"
               "Current sessions ip mixed  media: {mixed}\n")


def test_with_no_calls(bare: Run) -> None:
    assert bare("list numsessions") == NUMSESSIONS.format(own=0, foreign=0, total=0, v4=0, v6=0,
                                                          mixed=0)
    assert bare("list sessions all") == "No sessions on this media relay.\n"
    assert bare("list sessions own") == "No own sessions on this media relay.\n"
    assert bare("list sessions recording") == "No recording sessions on this media relay.\n"
    assert bare("list sessions") == "More parameters required.\n"
    assert bare("list sessions nope") == "\nCall ID not found (nope).\n\n"
    assert bare("terminate nope") == "\nCall Id not found (nope).\n\n"
    assert bare("terminate") == "More parameters required.\n"
    assert bare("terminate all") == "All calls terminated by operator.\n"
    assert bare("debug") == "No call ID specified\n"
    assert bare("debug nope on") == "Call ID 'nope' not found\n"
    assert bare("call nope info") == "No such call 'nope'\n"
    assert bare("call") == "More parameters required.\n"
    assert bare("active") == "Ok, all calls set to 'owned (active)'\n"
    assert bare("standby") == "Ok, all calls set to 'foreign (standby)'\n"


@pytest.fixture
def calls(engine_runtime: Runtime, loop: asyncio.AbstractEventLoop) -> dict[str, Call]:
    return make_calls(engine_runtime, loop)


def test_sessions_with_calls(cli: Run, calls: dict[str, Call]) -> None:
    a_call, b_call = calls["a-call"], calls["b-call"]
    assert cli("list numsessions") == NUMSESSIONS.format(own=1, foreign=1, total=2, v4=2, v6=0,
                                                         mixed=0)
    assert cli("list sessions all") == (
        f"ID: {'a-call':>60} | del:n | creat:{int(a_call.created):12d} | prx:127.0.0.1:5060 | "
        "redis: 0 | frgn:n | rec:n\n"
        f"ID: {'b-call':>60} | del:y | creat:{int(b_call.created):12d} | prx:127.0.0.1:5060 | "
        "redis: 0 | frgn:y | rec:y\n")
    assert cli("list sessions own").count("ID: ") == 1
    assert "b-call" in cli("list sessions recording")
    offerer, callee = a_call.monologues
    ports = [[stream.selected.port for stream in ml.medias[0].streams if stream.selected]
             for ml in (offerer, callee)]
    a_rtp = offerer.medias[0].streams[0]
    a_rtp.stats_in.packets, a_rtp.stats_in.bytes = 10, 1720  # as the relay counts them
    last = int(a_rtp.last_packet)
    duration = re.compile(r"callduration \d+\.\d{6}")
    assert duration.sub("D", cli("list sessions a-call")) == (
        f"\ncallid: a-call\ndeletionmark: no\ncreated: {int(a_call.created)}\n"
        f"proxy: 127.0.0.1:5060\ntos: 0\nlast_signal: {int(a_call.last_signal)}\n"
        "redis_keyspace: 0\nlast redis update: 0\nforeign: no\nrecording: no\n\n"
        "--- Tag 'ft1', type: FROM_TAG, label '', branch '', D\n"
        "---     subscribed to media with monologue tag '' (index: 1)\n"
        "---     subscription of media with monologue tag '' (index: 1)\n"
        "------ Media #1 (audio over RTP/AVP) using unknown codec\n"
        f"-------- Port {'127.0.0.1:' + str(ports[0][0]):>21} <>       127.0.0.1:6000 , "
        f"SSRC 0, 10 p, 1720 b, 0 e, {last} uts 0 kts\n"
        f"-------- Port {'127.0.0.1:' + str(ports[0][1]):>21} <>       127.0.0.1:6001  (RTCP), "
        f"SSRC 0, 0 p, 0 b, 0 e, {last} uts 0 kts\n"
        "--- Tag '', type: UNKNOWN, label '', branch '', D\n"
        "---     subscribed to media with monologue tag 'ft1' (index: 1)\n"
        "---     subscription of media with monologue tag 'ft1' (index: 1)\n"
        "------ Media #1 (audio over RTP/AVP) using PCMU/8000\n"
        f"-------- Port {'127.0.0.1:' + str(ports[1][0]):>21} <>         0.0.0.0:0    , "
        f"SSRC 0, 0 p, 0 b, 0 e, {last} uts 0 kts\n"
        f"-------- Port {'127.0.0.1:' + str(ports[1][1]):>21} <>         0.0.0.0:0     (RTCP), "
        f"SSRC 0, 0 p, 0 b, 0 e, {last} uts 0 kts\n\n")
    assert duration.sub("D", cli("call a-call info")) == duration.sub(
        "D", cli("list sessions a-call"))
    assert cli("call a-call tag ft1 info").startswith("--- Tag 'ft1', type: FROM_TAG")
    assert cli("call a-call tag nope info") == "No such tag 'nope'\n"
    assert cli("call a-call") == "Incomplete command: \n"
    assert cli("call a-call foo") == "Unknown command: foo\n"


def test_debug_sets_the_call_flag(cli: Run, calls: dict[str, Call]) -> None:
    assert cli("debug a-call on") == "Enabled debugging for call 'a-call'\n"
    assert calls["a-call"].debug
    assert cli("call a-call debug off") == "Disabled debugging for call 'a-call'\n"
    assert not calls["a-call"].debug
    assert cli("debug a-call maybe") == "Invalid on/off flag ('maybe') specified\n"


def test_terminate_ends_calls_as_forced(cli: Run, engine_runtime: Runtime,
                                        calls: dict[str, Call]) -> None:
    closed = engine_runtime.stats.totals.closed
    assert cli("terminate a-call") == (
        "\nCall Id (a-call) successfully terminated by operator.\n\n")
    assert "a-call" not in calls and closed["force_terminated"] == 1
    assert cli("terminate own") == "All own calls terminated by operator.\n"
    assert list(calls) == ["b-call"]
    assert cli("terminate foreign") == "All foreign calls terminated by operator.\n"
    assert not calls


def test_call_terminate(cli: Run, calls: dict[str, Call]) -> None:
    assert cli("call b-call terminate") == "\nCall 'b-call' terminated.\n\n"
    assert "b-call" not in calls


def test_active_and_standby_change_ownership(cli: Run, calls: dict[str, Call]) -> None:
    cli("standby")
    assert all(call.foreign for call in calls.values())
    cli("active")
    assert not any(call.foreign for call in calls.values())


def test_interfaces_from_the_engine_port_pools(cli: Run) -> None:
    assert cli("list interfaces") == (
        "Interface 'default' address '127.0.0.1' (IPv4)\n"
        " Port range: 30000 - 40000\n"
        " Ports used:     0 / 10001 (  0.0%)\n"
        " Packets/bytes/errors:\n"
        "  Ingress:            0 /          0 /          0\n"
        "  Egress:             0 /          0 /          0\n"
        " Packets lost/duplicates:          0 /          0\n"
        " MOS:    avg -nan, packet loss avg -nan%\n"
        " Jitter: avg -nan (measured -nan)\n"
        " RTT:    e2e -nan, dsct -nan\n\n")


def test_totals_counters_jsonstats_read_the_metric_list(cli: Run, calls: object) -> None:
    totals = cli("list totals")
    assert totals.startswith("\nStatistics over currently running sessions:\n\n"
                             " Owned sessions                                  :1\n"
                             " Foreign sessions                                :1\n"
                             " Total sessions                                  :2\n")
    assert cli("list counters") == "\nCurrent per-second counters:\n\n" + "".join(
        f" {label:<48}:0\n" for label in (
            f"{kind} per second ({where})" for where in ("userspace", "kernel", "total")
            for kind in ("Packets", "Bytes", "Errors")))
    assert cli("list jsonstats").startswith(
        '{"currentstatistics":{"sessionsown":1,"sessionsforeign":1,"sessionstotal":2,')


# ---------------------------------------------------------------------- hook, ng, framing

class Extension:
    @hookimpl(optionalhook=True)
    def rtpgate_cli_commands(self, runtime: Runtime) -> list[object]:
        async def hello(ctx: CliContext, args: str) -> None:
            ctx.write(f"hello {args or 'world'}\n")

        def mystat(ctx: CliContext, args: str) -> None:
            ctx.write(f"{ctx.runtime.settings.port_min}\n")  # type: ignore[attr-defined]

        return [CliCommand(("hello",), hello, "[<name>]", "say hello"),
                CliCommand(("list", "mystat"), mystat, None, "print port-min"),
                CliCommand(("list", "timeout"), mystat),  # taken: left out
                CliCommand(("nothere", "x"), mystat),  # no parent: left out
                "not a command"]


def test_a_plugin_adds_commands_through_the_hook() -> None:
    runtime = make_runtime(Extension())
    run = runner(runtime)
    assert run("hello") == "hello world\n"
    assert run("hello you") == "hello you\n"
    assert run("list mystat") == "30000\n"
    assert run("get mystat") == "30000\n"
    assert run("list timeout") == "TIMEOUT=60\n"
    help_lines = run("help").splitlines()
    assert help_lines[-1] == "\thello [<name>]" + " " * 35 + ": say hello"
    assert run("list help").splitlines()[-1].startswith("\tmystat ")
    provides = runtime.plugins.records["Extension"].provides
    assert "CLI command: hello" in provides and "CLI command: list mystat" in provides
    assert sum(line.startswith("conflict: ") for line in provides) == 3


def test_ng_cli_command(engine_runtime: Runtime) -> None:
    async def ng(payload: bytes) -> bytes:
        return await engine_runtime.ng.process(payload, ("127.0.0.1", 1), "udp")

    assert asyncio.run(ng(b"d7:command3:cli4:body12:list timeoute")) == (
        b"d8:response11:TIMEOUT=60\n6:result2:oke")
    assert asyncio.run(ng(b'{"command":"cli","body":""}')) == (
        b'{"result":"error","error-reason":"No \'body\' in message"}')
    assert asyncio.run(ng(b"d7:command3:clie")) == (
        b"d6:result5:error12:error-reason20:No 'body' in messagee")


def test_line_framer() -> None:
    assert line_framer(b"list totals") == ([], 0)
    assert line_framer(b"list totals\r\nhelp\nrest") == ([b"list totals", b"help"], 18)


def test_c_number_parsing() -> None:
    assert (strtol(" 12abc").value, strtol("x").digits) == (12, False)
    assert strtoul("-1").value == (1 << 64) - 1
    assert strtod("1.5e1x").value == 15.0
    assert strtod("1e999").errno == 34


def test_ctl_address_precedence(tmp_path: Path) -> None:
    conf = tmp_path / "rtpengine.conf"
    conf.write_text("[rtpengine]\nlisten-cli = 10.0.0.1:9901\n")
    assert target(None, None, "/nonexistent") == ("127.0.0.1", 9900)
    assert target(None, None, str(conf)) == ("10.0.0.1", 9901)
    assert target(None, 1234, str(conf)) == ("10.0.0.1", 1234)
    assert target("127.0.0.2", None, str(conf)) == ("127.0.0.2", 9900)
    assert target("127.0.0.2:5555", 6666, str(conf)) == ("127.0.0.2", 6666)
    assert target("[::1]:5555", None, "/nonexistent") == ("::1", 5555)
    conf.write_text("[rtpengine]\nlisten-cli = 9902\n")
    assert target(None, None, str(conf)) == ("127.0.0.1", 9902)
