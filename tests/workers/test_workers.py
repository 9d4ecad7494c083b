"""Two workers sharded by call-id (``--num-threads=2``), over real sockets.

Each worker owns the call-ids that hash to it and its half of the media port range; a request
landing on the other worker is forwarded to the owner (the workers' debug log says so, which is
how these tests know where a request landed).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from rtpgate.ngcommands import codec
from rtpgate.testing import Daemon, ServerProcess, audio_sdp, ng_json, pid_alive, wait_for
from rtpgate.testing import cli_text as cli
from rtpgate.workers.shard import owner as owner_of
from workers_wire import (
    NgSocket,
    answer,
    call_id_of,
    media_port,
    offer,
    restarted,
    sockets_on,
    unique,
    wait_gone,
    workers_of,
)

LISTENERS = ("--listen-ng=127.0.0.1:0", "--listen-http=127.0.0.1:0",
             "--listen-cli=127.0.0.1:0")
ARGS = ("--num-threads=2", "--log-level=7", "--delete-delay=0",
        "--port-min=31000", "--port-max=31999")


@pytest.fixture
def two_workers(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server(*LISTENERS, *ARGS)


def test_one_worker_is_one_process_without_a_supervisor(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*LISTENERS, "--num-threads=1", "--log-level=7")
    assert server.proc is not None
    assert "workers" not in json.loads(server.ready_file.read_text())
    assert json.loads(server.ready_file.read_text())["pid"] == server.proc.pid
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
    assert children.split() == []
    ng = NgSocket(server)
    call_id = unique("single")
    offer(ng, call_id)
    assert ng.ng("list")["calls"] == [call_id]
    assert "forwarded" not in server.log


def test_the_ready_file_lists_two_workers_with_half_the_ports_each(
        two_workers: ServerProcess) -> None:
    workers = workers_of(two_workers)
    assert [(w["index"], w["port_min"], w["port_max"]) for w in workers] == [
        (0, 31000, 31499), (1, 31500, 31999)]
    assert all(w["pid"] != two_workers.proc.pid for w in workers)  # type: ignore[union-attr]


@pytest.mark.parametrize("owner", [0, 1])
def test_offer_on_the_owner_answer_and_delete_on_the_other_worker(
        two_workers: ServerProcess, owner: int) -> None:
    on = sockets_on(two_workers)
    call_id = call_id_of(owner)
    reply = offer(on[owner], call_id)
    low, high = workers_of(two_workers)[owner]["port_min"], workers_of(two_workers)[owner][
        "port_max"]
    assert low <= media_port(reply) <= high  # the owner allocated from its share
    other = on[1 - owner]
    answered = answer(other, call_id)
    assert low <= media_port(answered) <= high
    assert other.ng("delete", call_id=call_id, from_tag="a")["result"] == "ok"
    log = two_workers.log
    assert f"offer for call-id {call_id} forwarded" not in log
    for command in ("answer", "delete"):
        assert (f"worker {1 - owner}: {command} for call-id {call_id} forwarded to worker "
                f"{owner}") in log
    # gone on both: the owner deleted it, and the other worker asks the owner
    for ng in on.values():
        assert ng.ng("query", call_id=call_id)["error-reason"] == "Unknown call-id"


def test_a_duplicate_cookie_is_answered_from_the_owners_cache_wherever_it_lands(
        two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    call_id = call_id_of(0)
    offer(on[0], call_id)
    delete = {"command": "delete", "call-id": call_id, "from-tag": "a"}
    cookie = unique("dup").encode()
    first = on[1].raw(cookie, delete)  # lands on worker 1, runs on worker 0
    assert "totals" in codec.decode(first)[0]
    # run again it would warn that the call is gone: the cached reply comes back on either
    for ng in (on[0], on[1], on[0]):
        assert ng.raw(cookie, delete) == first
    again = on[0].ng("delete", call_id=call_id, from_tag="a")
    assert again["warning"] == "Call-ID not found or tags didn't match"


@pytest.mark.parametrize("owner", [0, 1])
def test_a_cookie_reused_with_another_body_gets_the_first_reply_wherever_it_lands(
        two_workers: ServerProcess, owner: int) -> None:
    """As one process (rtpengine's cookie cache is keyed by the cookie alone): the offer runs
    on its call's owner, the cookie hashes to the other worker, and a ``ping`` (no call-id) or
    a ``delete`` of the call (its owner) with that cookie, landing on either worker, gets the
    offer's reply and changes nothing."""
    on = sockets_on(two_workers)
    call_id = call_id_of(owner)
    cookie = call_id_of(1 - owner, prefix="cookie").encode()  # hashes to the other worker
    request = {"command": "offer", "call-id": call_id, "from-tag": "a",
               "sdp": audio_sdp("a", 50000)}
    first = on[owner].raw(cookie, request)  # runs where it landed, on the owner
    assert codec.decode(first)[0]["result"] == "ok"
    delete = {"command": "delete", "call-id": call_id, "from-tag": "a"}
    for ng in (on[owner], on[1 - owner]):
        assert ng.raw(cookie, {"command": "ping"}) == first
        assert ng.raw(cookie, delete) == first
    assert on[1 - owner].ng("query", call_id=call_id)["result"] == "ok"  # not deleted


def test_list_and_statistics_count_every_workers_calls_once(
        two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    calls = [call_id_of(w) for w in (0, 0, 1, 1, 1)]
    for call_id in calls:
        offer(on[0], call_id)
    for ng in on.values():
        listed = ng.ng("list", limit=100)["calls"]
        assert sorted(listed) == sorted(calls)
        assert len(ng.ng("list", limit=3)["calls"]) == 3
        current = ng.ng("statistics")["statistics"]["currentstatistics"]
        assert current["sessionsown"] == 5
        assert current["sessionstotal"] == 5
        totals = ng.ng("statistics")["statistics"]["totalstatistics"]
        assert totals["managedsessions"] == 0  # none ended yet
    for call_id in calls:
        assert on[1].ng("delete", call_id=call_id, from_tag="a")["result"] == "ok"
    totals = on[0].ng("statistics")["statistics"]["totalstatistics"]
    assert totals["managedsessions"] == 5


def test_list_gives_every_workers_calls_in_creation_order(
        two_workers: ServerProcess) -> None:
    """As one process lists them (oldest first, the limit keeping the oldest), whichever
    worker owns each call and wherever the list lands."""
    on = sockets_on(two_workers)
    calls = [call_id_of(w) for w in (1, 0, 0, 1, 0)]
    for call_id in calls:
        offer(on[0], call_id)
    for ng in on.values():
        assert ng.ng("list")["calls"] == calls
        assert ng.ng("list", limit=2)["calls"] == calls[:2]
        assert ng.ng("list", limit="4")["calls"] == calls[:4]
        assert ng.ng("list", limit=-1) == {"result": "error",
                                           "error-reason": "invalid limit, must be >= 0"}


def test_max_sessions_counts_every_workers_calls(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``--max-sessions=2`` admits two calls in all, not two per worker."""
    server = rtpgate_server(*LISTENERS, *ARGS, "--max-sessions=2")
    on = sockets_on(server)
    first, second = call_id_of(0), call_id_of(1)
    offer(on[1], first)
    offer(on[0], second)
    for ng in on.values():
        for owner in (0, 1):
            refused = ng.ng("offer", call_id=call_id_of(owner), from_tag="a",
                            sdp=audio_sdp("a", 50000), supports=["load limit"])
            assert refused == {"result": "load limit",
                               "message": "Parallel session limit reached"}
    assert on[1].ng("offer", call_id=first, from_tag="a",  # a running call renegotiates
                    sdp=audio_sdp("a", 50004))["result"] == "ok"
    assert on[1].ng("delete", call_id=first, from_tag="a")["result"] == "ok"
    offer(on[1], call_id_of(0))  # room again, on either worker
    assert on[0].ng("offer", call_id=call_id_of(1), from_tag="a",
                    sdp=audio_sdp("a", 50000))["error-reason"] == (
                        "Parallel session limit reached")


def test_ng_over_http_is_routed_too(two_workers: ServerProcess) -> None:
    calls = [call_id_of(w) for w in (0, 1, 0, 1)]
    for call_id in calls:  # a fresh connection each: they land on either worker
        reply = ng_json(two_workers, "offer", call_id=call_id, from_tag="a",
                        sdp=audio_sdp("a", 50000))
        assert reply["result"] == "ok", reply
    assert sorted(ng_json(two_workers, "list")["calls"]) == sorted(calls)


def test_a_killed_worker_loses_only_its_calls_and_comes_back(
        two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    kept, lost = call_id_of(0), call_id_of(1)
    offer(on[0], kept)
    offer(on[0], lost)
    old = int(workers_of(two_workers)[1]["pid"])
    os.kill(old, signal.SIGKILL)
    wait_gone(old)
    new = restarted(two_workers, 1, old)
    assert new != old and two_workers.alive
    assert re.search(r"worker 1 \(pid \d+\) exited with -9; restarting it", two_workers.log)
    for ng in on.values():
        def listed(ng: NgSocket = ng) -> list[str] | None:
            calls: list[str] = ng.ng("list")["calls"]
            return calls if calls == [kept] else None
        wait_for(listed, 30.0, "the lost call gone, the kept one listed")
        assert ng.ng("query", call_id=lost)["error-reason"] == "Unknown call-id"
        assert ng.ng("query", call_id=kept)["result"] == "ok"
    # the new worker 1 serves new calls
    again = call_id_of(1)
    offer(on[0], again)
    answer(on[1], again)


def test_cli_lists_and_counts_every_workers_sessions_once(two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    calls = [call_id_of(w) for w in (0, 1, 1)]
    for call_id in calls:
        offer(on[0], call_id)
    for _ in range(6):  # fresh connections: the command lands on either worker
        listed = re.findall(r"^ID: +(\S+) ", cli(two_workers, "list sessions all"), re.M)
        assert sorted(listed) == sorted(calls)
        counts = cli(two_workers, "list numsessions")
        assert "Current sessions own: 3\n" in counts
        assert "Current sessions total: 3\n" in counts
        for call_id in calls:  # one call's details come from its owner
            assert f"callid: {call_id}" in cli(two_workers, f"list sessions {call_id}")
    for _ in range(4):  # the totals are every worker's, wherever the command lands
        totals = cli(two_workers, "list totals")
        assert re.search(r"^ Owned sessions +:3$", totals, re.M), totals
        assert re.search(r"^ +127\.0\.0\.1 +\| +\d+ +\| +3 ", totals, re.M), totals  # offers
        current = json.loads(cli(two_workers, "list jsonstats"))["currentstatistics"]
        assert current["sessionsown"] == 3
    assert "successfully terminated" in cli(two_workers, f"terminate {calls[1]}")
    assert cli(two_workers, "terminate all") == "All calls terminated by operator.\n"
    assert cli(two_workers, "list sessions all") == "No sessions on this media relay.\n"


def _samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name)]


def test_metrics_show_every_workers_calls_and_counters_once(
        two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    calls = [call_id_of(w) for w in (0, 0, 1)]
    for call_id in calls:
        offer(on[1], call_id)
    assert on[0].ng("delete", call_id=calls[0], from_tag="a")["result"] == "ok"
    for _ in range(4):
        status, _, body = two_workers.http("GET", "/metrics")
        assert status == 200
        text = body.decode()
        assert _samples(text, 'rtpengine_sessions{type="own"}') == [
            'rtpengine_sessions{type="own"} 2.0']
        assert _samples(text, "rtpengine_sessions_total ") == ["rtpengine_sessions_total 1.0"]
        # each offer was counted once, by the worker that ran it
        offers = [line for line in _samples(text, "rtpengine_requests_total")
                  if 'request="offer"' in line or 'command="offer"' in line]
        assert offers and all(line.endswith(" 3.0") for line in offers), offers
        types = [line for line in text.splitlines() if line.startswith("# TYPE ")]
        assert len(types) == len(set(types))  # one family each, of its own type
        assert "# TYPE rtpengine_sessions gauge" in types
        assert "# TYPE rtpengine_sessions_total counter" in types
        for family in ("rtpengine_uptime_seconds", "rtpgate_plugins"):  # one series each
            names = [line.split(" ")[0] for line in _samples(text, family)]
            assert len(names) == len(set(names)), names


def test_every_spelling_of_call_id_is_routed(two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    for spelling in ("call ID", "call id", "call-ID"):
        call_id = call_id_of(0)
        reply = on[1].ng("offer", **{spelling.replace("-", "_"): call_id}, from_tag="a",
                         sdp=audio_sdp("a", 50000))
        assert reply["result"] == "ok", reply
        assert f"offer for call-id {call_id} forwarded to worker 0" in two_workers.log
        assert on[0].ng("query", call_id=call_id)["result"] == "ok"


def test_a_numeric_call_id_is_routed_as_its_text(two_workers: ServerProcess) -> None:
    """rtpengine reads a call-id sent as a bencode integer as its digits, and so does the
    engine: the call must be made by the owner of those digits, where a later request naming
    them as text is routed (a call made where the offer landed could be neither found nor
    deleted: ports held until the call timed out, seen in the hostile-input run)."""
    on = sockets_on(two_workers)
    numbers = {}
    for number in itertools.count(-1000):
        numbers.setdefault(owner_of(str(number), 2), number)
        if len(numbers) == 2:
            break
    for worker, number in numbers.items():
        reply = on[1 - worker].ng("offer", call_id=number, from_tag="a",
                                  sdp=audio_sdp("a", 50000))
        assert reply["result"] == "ok", reply
        for ng in on.values():
            assert ng.ng("query", call_id=str(number))["result"] == "ok"
        assert on[1 - worker].ng("delete", call_id=str(number), from_tag="a")["result"] == "ok"
        assert on[worker].ng("query", call_id=number)["error-reason"] == "Unknown call-id"


def test_cli_set_changes_every_worker(two_workers: ServerProcess) -> None:
    on = sockets_on(two_workers)
    assert cli(two_workers, "set maxsessions 0") == "Success setting maxsessions to 0\n"
    for worker in (0, 1):
        refused = on[worker].ng("offer", call_id=call_id_of(1 - worker), from_tag="a",
                                sdp=audio_sdp("a", 50000))
        assert refused["error-reason"] == "Parallel session limit reached", refused
    assert cli(two_workers, "set maxsessions -1").startswith("Success setting maxsessions")
    offer(on[0], call_id_of(1))


def test_two_workers_as_a_daemon(rtpgate_daemon: Daemon) -> None:
    result = rtpgate_daemon.start("-E", "--listen-http=127.0.0.1:0", "--num-threads=2")
    assert result.returncode == 0, result.stderr
    pid = rtpgate_daemon.pid  # the supervisor's
    info = json.loads(rtpgate_daemon.ready.read_text())
    assert info["pid"] == pid
    workers = [int(w["pid"]) for w in info["workers"]]
    port = info["listeners"][0]["port"]
    for _ in range(4):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    rtpgate_daemon.stop()
    assert not any(pid_alive(p) for p in (pid, *workers))
    assert not rtpgate_daemon.pidfile.exists()


def test_a_worker_that_cannot_bind_fails_the_start_with_its_reason(
        rtpgate_daemon: Daemon) -> None:
    with socket.socket() as taken:  # no SO_REUSEPORT: the workers cannot share it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = rtpgate_daemon.start("-E", f"--listen-http=127.0.0.1:{port}",
                                      "--num-threads=2")
    assert result.returncode == 1
    assert (f"--listen-http: cannot bind 127.0.0.1:{port}: Address already in use"
            ) in result.stderr
    assert not rtpgate_daemon.pidfile.exists()


def test_a_duplicate_without_a_call_id_meets_its_cached_reply_on_either_worker(
        two_workers: ServerProcess) -> None:
    """Requests without a call-id are run by the worker their cookie hashes to, so a
    retransmission landing elsewhere still gets the first reply (here a ``list`` that a new
    call would change)."""
    on = sockets_on(two_workers)
    first_call = call_id_of(0)
    offer(on[0], first_call)
    cookie = unique("list").encode()
    first = on[0].raw(cookie, {"command": "list"})
    assert codec.decode(first)[0]["calls"] == [first_call]
    offer(on[1], call_id_of(1))
    for ng in (on[1], on[0]):
        assert ng.raw(cookie, {"command": "list"}) == first
    assert len(on[1].ng("list")["calls"]) == 2


def test_two_workers_stop_without_a_traceback(two_workers: ServerProcess) -> None:
    """Each worker holds a connection to its sibling's link socket once a request has been
    forwarded either way; stopping closes them and waits for their readers, so neither worker
    logs a cancelled task (Python 3.11's streams log a handler task cancelled by the loop's
    end as an error with its traceback)."""
    on = sockets_on(two_workers)
    for owner in (0, 1):
        call_id = call_id_of(owner)
        offer(on[owner], call_id)
        assert answer(on[1 - owner], call_id)["result"] == "ok"  # forwarded to the owner
    assert two_workers.stop() == 0
    assert "Traceback" not in two_workers.log
    assert "CancelledError" not in two_workers.log


def test_only_the_supervisor_speaks_to_systemd(rtpgate_server: Callable[..., ServerProcess],
                                               tmp_path: Path) -> None:
    """With ``Type=notify`` systemd takes READY=1 and MAINPID from the service's messages: the
    supervisor sends them once every worker listens, and the workers send nothing (a worker's
    READY=1 came first, too early, and with ``NotifyAccess=all`` its MAINPID would make systemd
    watch a worker instead of the supervisor)."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(30)
        server = rtpgate_server(*LISTENERS, *ARGS, env={"NOTIFY_SOCKET": path})
        assert server.proc is not None
        messages = [sock.recv(4096).decode().splitlines()]
        assert "READY=1" in messages[0]
        assert f"MAINPID={server.proc.pid}" in messages[0]
        assert server.stop() == 0
        sock.settimeout(1)
        with contextlib.suppress(TimeoutError):
            while True:
                messages.append(sock.recv(4096).decode().splitlines())
    lines = [line for message in messages for line in message]
    assert lines.count("READY=1") == 1
    assert "STOPPING=1" in lines
    assert [line for line in lines if line.startswith("MAINPID=")] == [
        f"MAINPID={server.proc.pid}"]
