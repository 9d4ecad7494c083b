"""rtpgate's CLI against what rtpengine 10.5 answered in the recorded transcripts (HTTP, WebSocket,
the TCP port), modulo the values that depend on the running state (counts, uptime).

Where the newest rtpengine answers differently from 10.5, rtpgate follows the newest and the
expected text is derived from 10.5's by the rules in :func:`newest` (docs/cli.md lists them).
Commands whose output depends on calls (``list sessions all`` with calls, ``list interfaces``)
are checked with known state in test_cli_calls.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from cli_clients import http_cli, tcp_cli, ws_cli
from e2e_helpers import SHARED
from rtpgate.testing import ServerProcess

PROBE = SHARED / "reference" / "transcripts" / "probe.json"
pytestmark = pytest.mark.skipif(not PROBE.exists(), reason=f"no reference transcripts at {PROBE}")

#: Depend on calls or on features the reference had (interfaces need the engine's port pools).
WITH_STATE = {"list sessions all", "list interfaces"}
#: Rendered from the metric list; compared by structure below.
METRIC_VIEWS = {"list totals", "list jsonstats"}


def reference() -> list[dict[str, Any]]:
    return json.loads(PROBE.read_text()) if PROBE.exists() else []


def exchanges(group: str) -> list[tuple[str, str]]:
    """``(command, 10.5's output)`` of one transcript group."""
    found = []
    for item in reference():
        if item["group"] == group == "cli_port":
            found.append((item["request"].rstrip("\n"), item["response"]))
        elif item["group"] == group == "http_cli" and item["request"].startswith("GET /cli/"):
            path = item["request"].split(" ")[1]
            if item["request"].startswith(f"GET {path} HTTP/1.1"):  # a well-formed request line
                found.append((path[len("/cli/"):], item["response"].split("\r\n\r\n", 1)[1]))
        elif item["group"] == group == "ws:cli.rtpengine.com":
            found += [(frame["sent"], frame["received"][0]["payload"])
                      for frame in item["frames"]
                      if frame["received"] and frame["sent_kind"] in ("text", "binary")]
    return found


def words(command: str) -> str:
    """The command as rtpengine 10.5 understood it (``+``/``%20``/one byte separate words)."""
    return re.sub(r"[+ ]|%20", " ", command).strip()


def normalize(text: str) -> str:
    return re.sub(r"\d+", "0", text)


def newest(command: str, old: str) -> str:
    """10.5's answer turned into the newest rtpengine's (which rtpgate gives)."""
    unknown = re.fullmatch(r"Unknown or incomplete command::(.*)\n", old, re.S)
    if unknown:
        if not words(command):
            return "Incomplete command: \n"
        if not unknown.group(1):  # "list " with nothing after it
            return "More parameters required.\n"
        return f"Unknown command: {unknown.group(1)}\n"
    return old


def check(command: str, ours: str, old: str) -> None:
    command_words = words(command)
    if command_words.endswith("help"):
        # newest: "\t<cmd> <params>" padded to column 50, then ": <help>"; same commands in
        # the same order, plus the ones added since 10.5
        assert ours.startswith("Available sub-commands at this level:\n")
        theirs = [line.strip() for line in old.splitlines()[1:]]
        mine = [line.split()[0] for line in ours.splitlines()[1:]]
        assert [name for name in mine if name in theirs] == theirs, (command, mine)
    elif command_words == "list totals":
        current = "Total statistics"  # the block before it: sessions and rates
        assert normalize(ours.split(current)[0]) == normalize(old.split(current)[0])
        headers = [line for line in ours.splitlines() if line.endswith(":")]
        assert headers == [line for line in old.splitlines()
                           if line.endswith(":") and not line.startswith("Graphite")]
    elif command_words == "list jsonstats":
        mine, theirs = json.loads(ours), json.loads(old)
        for block in ("currentstatistics", "totalstatistics", "mos"):
            assert list(mine[block]) == list(theirs[block]), block
    elif command_words == "params current":
        assert ours.splitlines()[:13] == old.splitlines()[:13]  # the log levels
    else:
        assert normalize(ours) == normalize(newest(command, old)), command


@pytest.mark.parametrize(("command", "old"), [x for x in exchanges("http_cli")
                                              if words(x[0]) not in WITH_STATE])
def test_http_get_matches_rtpengine(shared_server: ServerProcess, command: str,
                                    old: str) -> None:
    check(command, http_cli(shared_server, command, raw_path=True).decode(), old)


@pytest.mark.parametrize(("command", "old"), [x for x in exchanges("cli_port")
                                              if words(x[0]) not in WITH_STATE])
def test_tcp_port_matches_rtpengine(shared_server: ServerProcess, command: str,
                                    old: str) -> None:
    check(command, tcp_cli(shared_server, command.encode() + b"\n").decode(), old)


def test_websocket_matches_rtpengine(shared_server: ServerProcess) -> None:
    recorded = [x for x in exchanges("ws:cli.rtpengine.com") if words(x[0]) not in WITH_STATE]
    assert len(recorded) >= 10
    replies = ws_cli(shared_server, *(command for command, _ in recorded))
    for (command, old), reply in zip(recorded, replies, strict=True):
        check(command, reply.decode(), old)


def test_post_cli_is_served(shared_server: ServerProcess) -> None:
    """10.5 answered POST /cli with 404; the newest rtpengine (and rtpgate) runs the body."""
    for body in (b"list timeout", b"list timeout\n"):
        status, headers, reply = shared_server.http(
            "POST", "/cli", body, {"Content-Type": "text/plain"})
        assert (status, headers["content-type"], reply) == (200, "text/plain", b"TIMEOUT=60\n")
    assert shared_server.http("POST", "/cli/", b"list timeout",
                              {"Content-Type": "text/plain"})[0] == 404
    assert shared_server.http("POST", "/cli", b"list timeout",
                              {"Content-Type": "application/x-rtpengine-ng"})[0] == 404
