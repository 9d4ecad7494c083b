"""The engine's timers (short configured values) and the load limit, on a real server."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from engine_client import (
    answer,
    answer_sdp,
    bindable,
    cli,
    delete,
    media_port,
    new_call_id,
    ng,
    offer,
    ports_in_use,
    sdp,
)
from rtpgate.testing import ServerProcess, media_ports

INACTIVE = ("a=rtpmap:0 PCMU/8000\r\na=inactive\r\n")


def totals(server: ServerProcess) -> dict[str, int]:
    stats = ng(server, {"command": "statistics"})["statistics"]["totalstatistics"]
    return {k: v for k, v in stats.items() if k.endswith("sessions")}


def wait_gone(server: ServerProcess, call_id: str, within: float) -> float:
    """Seconds until ``call_id`` left the calls table (fails after ``within``)."""
    started = time.monotonic()
    while call_id in ng(server, {"command": "list"})["calls"]:
        assert time.monotonic() - started < within, f"{call_id} still there"
        time.sleep(0.1)
    return time.monotonic() - started


def test_timeout_ends_a_call_without_media(rtpgate_server: Callable[..., ServerProcess]
                                           ) -> None:
    server = rtpgate_server(*media_ports(1000), "--timeout=1")
    call = new_call_id()
    port = media_port(offer(server, call))
    answer(server, call)
    assert wait_gone(server, call, 5) >= 0.9
    assert totals(server)["timeoutsessions"] == 1
    assert totals(server)["managedsessions"] == 1
    assert bindable(port) and ports_in_use(server) == 0


def test_silent_timeout_on_hold(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*media_ports(1000), "--timeout=1", "--silent-timeout=2")
    held = new_call_id()
    offer(server, held, sdp=sdp(codecs="0", media=INACTIVE))
    answer(server, held, sdp=answer_sdp(codecs="0", media=INACTIVE))
    active = new_call_id()
    offer(server, active)
    answer(server, active)
    wait_gone(server, active, 5)
    assert held in ng(server, {"command": "list"})["calls"]  # on hold: silent-timeout applies
    wait_gone(server, held, 5)
    assert totals(server)["timeoutsessions"] == 1
    assert totals(server)["silenttimeoutsessions"] == 1


def test_offer_timeout_for_an_unanswered_offer(rtpgate_server: Callable[..., ServerProcess]
                                               ) -> None:
    server = rtpgate_server(*media_ports(1000), "--timeout=1", "--offer-timeout=3")
    unanswered = new_call_id()
    offer(server, unanswered)
    answered = new_call_id()
    offer(server, answered)
    answer(server, answered)
    # the answered call times out first; the unanswered one lives for offer-timeout
    assert wait_gone(server, answered, 5) < 2.5
    assert unanswered in ng(server, {"command": "list"})["calls"]
    wait_gone(server, unanswered, 6)
    assert totals(server)["offertimeoutsessions"] == 1
    assert totals(server)["timeoutsessions"] == 1


def test_final_timeout(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*media_ports(1000), "--final-timeout=2")
    call = new_call_id()
    offer(server, call)
    answer(server, call)
    assert wait_gone(server, call, 6) > 1.5
    assert totals(server)["finaltimeoutsessions"] == 1


def test_changed_timeout_applies_to_running_calls(rtpgate_server: Callable[..., ServerProcess]
                                                  ) -> None:
    server = rtpgate_server(*media_ports(1000))  # timeout 60
    call = new_call_id()
    offer(server, call)
    answer(server, call)
    time.sleep(1.5)
    assert call in ng(server, {"command": "list"})["calls"]
    assert cli(server, "set timeout 1") == "Success setting timeout to 1\n"
    assert wait_gone(server, call, 4) < 3
    assert totals(server)["timeoutsessions"] == 1


def test_delete_delay(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*media_ports(1000), "--delete-delay=2")
    call = new_call_id()
    port = media_port(offer(server, call))
    answer(server, call)
    assert delete(server, call, from_tag="ft")["result"] == "ok"
    # marked for deletion: still listed and queried, ports still held
    assert call in ng(server, {"command": "list"})["calls"]
    assert ng(server, {"command": "query", "call-id": call})["result"] == "ok"
    assert not bindable(port)
    assert wait_gone(server, call, 5) > 1.0
    assert bindable(port) and ports_in_use(server) == 0
    assert totals(server)["regularterminatedsessions"] == 1
    # the delete-delay key overrides the setting
    call = new_call_id()
    offer(server, call)
    delete(server, call, delete_delay=0)
    assert call not in ng(server, {"command": "list"})["calls"]


def test_deleted_branch_waits_for_the_delete_delay(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """A delete of one branch of a forked offer (its via-branch) removes that branch only,
    after the delete-delay, as rtpengine does: its ports are held until then, the other
    branch is answered meanwhile, and the call goes on."""
    server = rtpgate_server(*media_ports(1000), "--delete-delay=2")
    call = new_call_id()
    first = media_port(offer(server, call, **{"via-branch": "b.0"}))
    second = media_port(offer(server, call, **{"via-branch": "b.1"}))
    assert first != second
    delete(server, call, from_tag="ft", via_branch="b.1")
    assert not bindable(second)
    reply = answer(server, call, **{"via-branch": "b.0"})
    assert reply["result"] == "ok", reply
    deadline = time.monotonic() + 6
    while not bindable(second):
        assert time.monotonic() < deadline, "the deleted branch's port is still held"
        time.sleep(0.1)
    query = ng(server, {"command": "query", "call-id": call})
    assert query["result"] == "ok" and set(query["tags"]) == {"ft", "tt"}, query
    assert not bindable(first)
    delete(server, call, delete_delay=0)
    assert ports_in_use(server) == 0


def test_load_limit(rtpgate_server: Callable[..., ServerProcess]) -> None:
    server = rtpgate_server(*media_ports(1000), "--max-sessions=1", "--delete-delay=0")
    first = new_call_id()
    assert offer(server, first)["result"] == "ok"
    refused = offer(server, new_call_id())
    assert refused == {"result": "error", "error-reason": "Parallel session limit reached"}
    limited = offer(server, new_call_id(), supports=["load limit"])
    assert limited == {"result": "load limit", "message": "Parallel session limit reached"}
    # the existing call may still renegotiate
    assert offer(server, first, sdp=sdp(version=2))["result"] == "ok"
    assert ng(server, {"command": "list"})["calls"] == [first]
    assert ports_in_use(server) == 4
    delete(server, first)
    assert offer(server, new_call_id())["result"] == "ok"


@pytest.mark.parametrize(("option", "message"), [
    ("--max-load=0.000001", "Load limit exceeded"),
])
def test_load_average_limit(rtpgate_server: Callable[..., ServerProcess], option: str,
                            message: str) -> None:
    if os.getloadavg()[0] <= 0.000001:
        pytest.skip("the load average is zero")
    server = rtpgate_server(*media_ports(1000), option)
    assert offer(server, new_call_id(), supports=["load limit"]) == {
        "result": "load limit", "message": message}
