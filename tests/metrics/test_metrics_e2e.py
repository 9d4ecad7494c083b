"""``/metrics`` against a real server: valid exposition (promtool), rtpengine's families with
rtpengine's names, types and labels, counters that move with real activity, rtpgate's own
families, collectors contributed through the ``rtpgate_metrics_collectors`` hook."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import websockets
from calls import answer, delete, offer
from metrics_helpers import (
    OPENMETRICS,
    parse,
    probe_env,
    promtool_check,
    rtpengine_after_traffic,
    scrape,
    value,
)
from metrics_helpers import ng as ng_request
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from rtpgate.testing import ServerProcess

Start = Callable[..., ServerProcess]

#: rtpengine families rtpgate fills whatever is installed (with the ng plugin).
ALWAYS = {"rtpengine_uptime_seconds", "rtpengine_sessions_total",
          "rtpengine_closed_sessions_total", "rtpengine_call_duration_avg",
          "rtpengine_call_duration_total", "rtpengine_call_duration2_total",
          "rtpengine_requests_total", "rtpengine_request_seconds_total",
          "rtpengine_errors_total"}
#: rtpengine families rtpgate never fills: it cannot measure them (no transcoding, no MOS).
NEVER = {"rtpengine_transcoded_media", "rtpengine_mos_total", "rtpengine_mos2_total",
         "rtpengine_mos_samples_total"}


async def _ws_exchange(url: str, subprotocol: str, messages: list[bytes]) -> list[bytes]:
    async with websockets.connect(url, subprotocols=[subprotocol]) as ws:  # type: ignore[list-item]
        replies = []
        for message in messages:
            await ws.send(message)
            reply = await ws.recv()
            replies.append(reply if isinstance(reply, bytes) else reply.encode())
        return replies


def traffic(server: ServerProcess) -> None:
    """Pings, an error, a retransmission, a WebSocket exchange, a statistics request."""
    for _ in range(3):
        assert ng_request(server, {"command": "ping"})["result"] == "pong"
    assert ng_request(server, {"command": "no such command"})["result"] == "error"
    for _ in range(2):
        assert ng_request(server, {"command": "ping"}, cookie="same-cookie")["result"] == "pong"
    replies = asyncio.run(_ws_exchange(server.ws_url(), "ng.rtpengine.com",
                                       [b"ws1 d7:command4:pinge"]))
    assert replies == [b"ws1 d6:result4:ponge"]
    assert ng_request(server, {"command": "statistics"})["result"] == "ok"


def test_promtool_finds_no_problem_idle_and_after_traffic(rtpgate_server: Start) -> None:
    server = rtpgate_server()
    _, idle = scrape(server)
    assert promtool_check(idle) == ""
    traffic(server)
    _, busy = scrape(server)
    assert "rtpengine_requests_total" in busy and "rtpgate_request_duration_seconds" in busy
    assert promtool_check(busy) == ""


def test_families_have_rtpengines_names_types_and_labels(rtpgate_server: Start) -> None:
    server = rtpgate_server()
    traffic(server)
    ours = parse(scrape(server)[1])
    theirs = rtpengine_after_traffic()
    assert set(theirs) >= ALWAYS, "the transcript changed: update ALWAYS"
    filled = {name for name in theirs if name in ours}
    assert filled >= ALWAYS
    assert not NEVER & set(ours)
    for name in filled:
        assert ours[name].type == theirs[name].type, name
        assert ours[name].label_names == theirs[name].label_names, name
        our_series = {labels for _, labels in ours[name].samples}
        their_series = {labels for _, labels in theirs[name].samples}
        if name == "rtpengine_closed_sessions_total":
            assert our_series == their_series  # every reason, as rtpengine
    # every family of ours under rtpengine_ is one of rtpengine's (upstream's list)
    upstream_only = {"rtpengine_interface_packets", "rtpengine_interface_bytes",
                     "rtpengine_interface_errors"}
    assert {n for n in ours if n.startswith("rtpengine_")} <= set(theirs) | upstream_only


def test_control_counters_move_with_requests(rtpgate_server: Start) -> None:
    server = rtpgate_server()
    assert ng_request(server, {"command": "ping"})["result"] == "pong"
    before = parse(scrape(server)[1])
    for _ in range(5):
        ng_request(server, {"command": "ping"})
    ng_request(server, {"command": "statistics"})
    ng_request(server, {"command": "bogus"})
    ng_request(server, {"no": "command"})
    after = parse(scrape(server)[1])

    def delta(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    proxy = "127.0.0.1"
    assert delta("rtpengine_requests_total", proxy=proxy, request="ping") == 5
    assert delta("rtpengine_requests_total", proxy=proxy, request="statistics") == 1
    assert delta("rtpengine_request_seconds_total", proxy=proxy, request="ping") > 0
    assert delta("rtpengine_errors_total", proxy=proxy) == 2
    assert value(after, "rtpengine_uptime_seconds") >= value(before, "rtpengine_uptime_seconds")
    # /ng requests over HTTP: 1 + 5 + 1 + 2 before the second scrape, one scrape in between
    assert delta("rtpgate_request_duration_seconds_count", transport="http",
                 protocol="ng") == 8
    assert delta("rtpgate_request_duration_seconds_count", transport="http",
                 protocol="metrics") == 1


def test_rtpgate_families_move(rtpgate_server: Start) -> None:
    server = rtpgate_server("--plugin=broken_probe", env=probe_env())
    families = parse(scrape(server)[1])
    assert value(families, "rtpgate_plugins", status="failed") == 1
    assert value(families, "rtpgate_plugin_info", plugin="broken_probe", status="failed") == 1
    assert value(families, "rtpgate_ng_cookie_cache_hits_total") == 0
    for _ in range(3):
        ng_request(server, {"command": "ping"}, cookie="again")
    assert value(parse(scrape(server)[1]), "rtpgate_ng_cookie_cache_hits_total") == 2

    async def with_open_connection() -> tuple[str, str]:
        async with websockets.connect(server.ws_url(), subprotocols=["echo.rtpengine.com"]  # type: ignore[list-item]
                                      ) as ws:
            await ws.send(b"hello")
            assert await ws.recv() == b"hello"
            during = await asyncio.to_thread(scrape, server)
        await asyncio.sleep(0.2)
        after = await asyncio.to_thread(scrape, server)
        return during[1], after[1]

    during, after = (parse(text) for text in asyncio.run(with_open_connection()))
    assert value(during, "rtpgate_ws_connections", transport="ws", protocol="echo") == 1
    assert value(after, "rtpgate_ws_connections", transport="ws", protocol="echo") == 0
    assert value(after, "rtpgate_request_duration_seconds_count", transport="ws",
                 protocol="echo") == 1
    assert value(after, "rtpgate_request_duration_seconds_bucket", transport="ws",
                 protocol="echo", le="+Inf") == 1


def test_openmetrics_when_the_scraper_asks(rtpgate_server: Start) -> None:
    server = rtpgate_server()
    traffic(server)
    headers, text = scrape(server, accept="application/openmetrics-text;version=1.0.0,"
                                          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
    assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["rtpengine_requests"].type == "counter"
    assert {s.name for s in families["rtpengine_requests"].samples} == {
        "rtpengine_requests_total"}
    plain_headers, plain = scrape(server)
    assert plain_headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# EOF" not in plain


def test_collectors_from_the_hook(rtpgate_server: Start) -> None:
    # one process: with several workers each worker's probe counts its own scrapes (summed)
    server = rtpgate_server("--plugin=metrics_probe_plugin", "--num-threads=1", env=probe_env())
    first = parse(scrape(server)[1])
    text = scrape(server)[1]
    second = parse(text)
    assert value(first, "probe_scrapes_total") == 1
    assert value(second, "probe_scrapes_total") == 2
    assert value(second, "rtpengine_uptime_seconds") >= 0  # the squatter was left out
    assert promtool_check(text) == ""
    assert "this collector always fails" in server.log
    status, _, body = server.http("GET", "/metrics",
                                  headers={"Accept": OPENMETRICS})
    assert status == 200 and body.endswith(b"# EOF\n")


# ------------------------------------------------------------------ with the engine

def test_session_counters_move_with_calls(rtpgate_server: Start) -> None:
    server = rtpgate_server("--delete-delay=0")
    offer(server)  # a first request from this proxy creates its request series
    before = parse(scrape(server)[1])
    calls = [offer(server)[0] for _ in range(3)]
    for call_id in calls:
        answer(server, call_id)
    during = parse(scrape(server)[1])
    assert value(during, "rtpengine_sessions", type="own") == \
        value(before, "rtpengine_sessions", type="own") + 3
    assert value(during, "rtpengine_sessions", type="foreign") == 0
    used = value(during, "rtpengine_ports_used") - value(before, "rtpengine_ports_used")
    assert used >= 3 * 4  # RTP and RTCP on both sides of each call
    assert value(during, "rtpengine_ports_free") + value(during, "rtpengine_ports_used") == \
        value(during, "rtpengine_ports")
    for call_id in calls:
        delete(server, call_id)
    after = parse(scrape(server)[1])

    def delta(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert delta("rtpengine_sessions", type="own") == 0
    assert delta("rtpengine_ports_used") == 0
    assert delta("rtpengine_sessions_total") == 3
    assert delta("rtpengine_closed_sessions_total", reason="terminated") == 3
    assert delta("rtpengine_call_duration_total") > 0
    assert delta("rtpengine_call_duration2_total") > 0
    assert delta("rtpengine_requests_total", proxy="127.0.0.1", request="offer") == 3
    assert delta("rtpengine_requests_total", proxy="127.0.0.1", request="answer") == 3
    assert delta("rtpengine_requests_total", proxy="127.0.0.1", request="delete") == 3
    assert promtool_check(scrape(server)[1]) == ""


def test_calls_ended_by_timeout_and_by_terminate(rtpgate_server: Start) -> None:
    server = rtpgate_server("--timeout=1")
    timed_out, _ = offer(server)
    answer(server, timed_out)
    terminated, _ = offer(server)
    answer(server, terminated)
    status, _, body = server.http("GET", f"/cli/terminate+{terminated}")
    assert status == 200
    assert b"successfully terminated" in body, body
    for _ in range(100):
        families = parse(scrape(server)[1])
        if value(families, "rtpengine_closed_sessions_total", reason="timeout") >= 1:
            break
        asyncio.run(asyncio.sleep(0.1))
    assert value(families, "rtpengine_closed_sessions_total", reason="timeout") == 1
    assert value(families, "rtpengine_closed_sessions_total", reason="force_terminated") == 1
    assert value(families, "rtpengine_sessions_total") == 2
    assert value(families, "rtpengine_sessions", type="own") == 0


def test_statistics_reports_the_same_counts(rtpgate_server: Start) -> None:
    """ng ``statistics`` and ``/metrics`` read the same counters."""
    server = rtpgate_server()
    call_id, _ = offer(server)
    answer(server, call_id)
    stats = ng_request(server, {"command": "statistics"})["statistics"]
    families = parse(scrape(server)[1])
    assert isinstance(stats, dict)
    current = stats["currentstatistics"]
    assert current["sessionsown"] == value(families, "rtpengine_sessions", type="own") == 1
    interface = stats["interfaces"][0]
    assert interface["ports"]["used"] == value(families, "rtpengine_ports_used",
                                                name=interface["name"],
                                                address=interface["address"])
    control = stats["controlstatistics"]["proxies"][0]
    assert control["offercount"] == value(families, "rtpengine_requests_total",
                                          proxy=control["proxy"], request="offer") == 1

