"""Hostile input cannot flood the log: unknown ng keys are summarised per message and
rate-limited per source, client bytes in log lines are clipped."""

from __future__ import annotations

import socket
from collections.abc import Callable

from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess, worker_count

NG = {"Content-Type": "application/x-rtpengine-ng"}


def test_many_unknown_keys_give_one_warning_per_source_and_minute(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """A dictionary with 1,000 unknown keys logged 1,000 warnings (one per new key, and the
    set of warned keys grew for ever); now it is one line naming the count and the first few,
    and the same source's next floods within a minute log nothing."""
    server = rtpgate_server("--listen-http=127.0.0.1:0", "--listen-ng=127.0.0.1:0")
    before = len(server.log)
    for round_ in range(5):
        request = {"command": "ping", **{f"junk{round_}-{i}": i for i in range(1000)}}
        status, _, body = server.http("POST", "/ng", b"c%d " % round_ +
                                      codec.encode(request, "bencode"), NG)
        assert status == 200 and body == b"c%d d6:result4:ponge" % round_
    log = server.log[before:]
    lines = [line for line in log.splitlines() if "Unknown dictionary key" in line]
    # one line per source and minute by each worker a flood reached (the limit is a process's,
    # docs/architecture.md; RTPGATE_TEST_WORKERS): at one worker, the first flood's only
    assert 1 <= len(lines) <= worker_count(), lines
    assert "Unknown dictionary keys encountered: 1000 ('junk0-0', 'junk0-1'" in lines[0]
    assert all(len(line) < 400 for line in lines), lines
    # another source is logged on its own (UDP from 127.0.0.2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.2", 0))
        sock.settimeout(5)
        sock.sendto(b"u1 " + codec.encode({"command": "ping", "other": 1}, "bencode"),
                    server.address("ng-udp"))
        assert sock.recv(1000) == b"u1 d6:result4:ponge"
    assert "Unknown dictionary key encountered: 'other' (ignored)" in server.log


def test_cli_lines_are_clipped_in_the_log(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """A megabyte of garbage posted to /cli is one short log line, not a megabyte."""
    server = rtpgate_server("--listen-http=127.0.0.1:0")
    before = len(server.log)
    for _ in range(5):
        status, _, _ = server.http("POST", "/cli", b"garbage " * 100_000,
                                   {"Content-Type": "text/plain"})
        assert status == 200
    grown = len(server.log) - before
    assert grown < 5 * 600, grown
    assert "(800000 characters)" in server.log

