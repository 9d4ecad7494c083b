"""The ng ``statistics`` command against rtpengine 10.5's replies (``http_ng.txt``): the same
nesting, keys in the same order, the same value types (integers as integers, ``%.6f`` values and
the uptime as strings), in both encodings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from metrics_helpers import NG, ng, ng_transcript_statistics
from rtpgate.ngcommands import codec
from rtpgate.statistics import CONTROL_COLUMNS
from rtpgate.testing import ServerProcess

Start = Callable[..., ServerProcess]
#: Blocks of 10.5 that rtpgate leaves out, as the newest rtpengine does without graphite.
LEFT_OUT = {"intervalstatistics"}


def _bencode_statistics(server: ServerProcess) -> dict[str, Any]:
    status, _, body = server.http("POST", "/ng", b"s1 d7:command10:statisticse", NG)
    assert status == 200
    reply, fmt = codec.decode(body.partition(b" ")[2])
    assert fmt == "bencode" or str(fmt).lower().endswith("bencode"), fmt
    assert list(reply) == ["statistics", "result"] and reply["result"] == "ok"
    return reply


def _types(section: dict[str, Any]) -> list[tuple[str, type]]:
    return [(key, type(value)) for key, value in section.items()]


@pytest.mark.parametrize("encoding", ["json", "bencode"])
def test_statistics_has_rtpengines_structure_and_types(rtpgate_server: Start,
                                                       encoding: str) -> None:
    server = rtpgate_server()
    ng(server, {"command": "ping"})
    ng(server, {"command": "bogus"})
    if encoding == "json":
        reply = ng(server, {"command": "statistics"})
        assert list(reply) == ["statistics", "result"] and reply["result"] == "ok"
    else:
        reply = _bencode_statistics(server)
    ours: dict[str, Any] = reply["statistics"]
    theirs: dict[str, Any] = ng_transcript_statistics(encoding)["statistics"]
    assert list(ours) == [k for k in theirs if k not in LEFT_OUT]
    for section in ("currentstatistics", "totalstatistics", "mos"):
        assert _types(ours[section]) == _types(theirs[section]), section
    assert ours["totalstatistics"]["uptime"].isdigit()
    assert ours["totalstatistics"]["avgcallduration"] == "0.000000"

    control, their_control = ours["controlstatistics"], theirs["controlstatistics"]
    assert next(iter(control)) == "proxies"
    [proxy] = control["proxies"]
    [their_proxy] = their_control["proxies"]
    assert next(iter(proxy)) == "proxy" and list(proxy)[-1] == "errorcount"
    assert proxy["proxy"] == "127.0.0.1"
    assert proxy["pingcount"] == 1 and proxy["errorcount"] == 1
    assert proxy["statscount"] == 0  # counted once answered, as rtpengine
    # every key of 10.5, in its order, with its type; after them the commands the newest
    # rtpengine counts too (``cli`` ...), where rtpgate has them
    newer = {f"{short}{what}" for short in CONTROL_COLUMNS for what in ("count", "duration")}
    assert [k for k in proxy if k in their_proxy] == list(their_proxy)
    assert all(k in newer for k in proxy if k not in their_proxy)
    for key in proxy:
        expected = type(their_proxy[key if key in their_proxy else
                                    ("pingcount" if key.endswith("count") else "pingduration")])
        assert type(proxy[key]) is expected, key
    assert float(proxy["pingduration"]) > 0
    assert proxy["offercount"] == 0 and proxy["playmediaduration"] == "0.000000"
    totals = {k: v for k, v in control.items() if k != "proxies"}
    assert [k for k in totals if k in their_control] == [k for k in their_control
                                                          if k != "proxies"]
    assert all(k in their_control or f"{k[5:-5]}count" in newer for k in totals)
    assert totals["totalpingcount"] == 1 and all(type(v) is int for v in totals.values())
    assert ours["transcoders"] == theirs["transcoders"] == []
    assert isinstance(ours["interfaces"], list)
    for interface in ours["interfaces"]:  # with the engine: as rtpengine's
        [their_interface] = theirs["interfaces"]
        assert _types(interface)[:3] == _types(their_interface)
        assert _types(interface["ports"]) == _types(their_interface["ports"])
