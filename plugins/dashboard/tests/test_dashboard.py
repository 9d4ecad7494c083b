"""The dashboard over real sockets: off unless asked for, the page and its WebSocket feed, the
login on connections that need one, and the calls table paged, filtered and sorted on the
server."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rtpgate_dashboard.plugin
from dashboard_traffic import Traffic, ng, statistics
from rtpgate.api import AccessSettings, Message, hash_password
from rtpgate.testing import (
    ServerProcess,
    call_owner,
    make_runtime,
    media_ports,
    self_signed_cert,
    worker_count,
)
from rtpgate_dashboard.access import Access
from rtpgate_dashboard.protocol import PATH, SUBPROTOCOL, DashboardProtocol
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

TOKEN = "s3cret-token"


@pytest.fixture
def start() -> Iterator[Callable[..., ServerProcess]]:
    servers: list[ServerProcess] = []

    def _start(*args: str) -> ServerProcess:
        server = ServerProcess(["--interface=127.0.0.1", *media_ports(1000),
                                "--delete-delay=0", *args]).start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


def open_ws(server: ServerProcess, *, protocols: tuple[str, ...] = (SUBPROTOCOL,),
            headers: dict[str, str] | None = None, secure: bool = False) -> ClientConnection:
    context = None
    if secure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        # websockets' sync client reads in a background thread while the handshake is written;
        # TLS 1.3 sends session tickets after the handshake, so the two threads would use one
        # OpenSSL connection at once (client-side 'ssl.SSLError: [SSL] internal error', seen
        # once in CI). TLS 1.2 has no post-handshake messages; the HTTPS tests cover TLS 1.3.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    return connect(server.ws_url("/dashboard", secure=secure),
                   subprotocols=list(protocols),  # type: ignore[arg-type]
                   additional_headers=headers, ssl=context, open_timeout=5)


def receive(conn: ClientConnection, kind: str = "tick", timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message["type"] == kind:
            decoded: dict[str, Any] = message
            return decoded


def refused(server: ServerProcess, **kwargs: Any) -> int | None:
    """The status a refused handshake got; ``None`` when it was accepted."""
    try:
        with open_ws(server, **kwargs) as conn:
            conn.recv(timeout=2)
    except InvalidStatus as exc:
        return exc.response.status_code
    return None


def test_off_unless_asked_for(start: Callable[..., ServerProcess]) -> None:
    server = start()
    assert server.http("GET", "/dashboard")[::2] == (404, b"not found\n")
    assert refused(server) == 400


def test_page_assets_and_live_feed_on_loopback(start: Callable[..., ServerProcess]) -> None:
    server = start("--dashboard")
    status, headers, body = server.http("GET", "/dashboard")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"http://" not in body and b"https://" not in body  # nothing fetched elsewhere
    for asset, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        status, headers, body = server.http("GET", f"/dashboard/{asset}")
        assert status == 200 and headers["content-type"].startswith(kind) and body
    assert server.http("GET", "/dashboard/nothing")[0] == 404

    call_id = Traffic(server).call(label="feed")
    with open_ws(server) as conn:
        assert conn.subprotocol == SUBPROTOCOL
        history = receive(conn, "history")
        assert isinstance(history["points"], list) and history["points"]
        stats = statistics(server)["currentstatistics"]
        tick = receive(conn)
        if tick["summary"]["sessions"]["total"] != 1:  # sampled before the call: one refresh
            tick = receive(conn)
        summary = tick["summary"]
        assert summary["sessions"]["total"] == stats["sessionstotal"] == 1
        assert [r["call_id"] for r in tick["calls"]["rows"]] == [call_id]
        assert tick["calls"]["rows"][0]["labels"] == "feed"
        offers = next(r for r in summary["signalling"] if r["command"] == "offer")
        assert offers["total"] == 1 and offers["mean_ms"] > 0
        assert summary["clients"][0]["counts"]["offer"] == 1
        assert {p["name"]: p["status"] for p in summary["plugins"]}["dashboard"] == "loaded"
        assert summary["interfaces"][0]["ports"]["used"] > 0
        # pushed once a second without being asked
        first, second = receive(conn), receive(conn)
        assert 0.5 < second["summary"]["time"] - first["summary"]["time"] < 1.6


def test_login_is_rtpgate_access_control(start: Callable[..., ServerProcess]) -> None:
    """The login is rtpgate's own (docs/access-control.md), enforced by the transports; with
    --http-auth-loopback this loopback connection is treated as any other host's."""
    server = start("--dashboard", f"--http-auth-token={TOKEN}", "--http-auth-loopback",
                   "--http-auth-exempt=/ng-plain")  # the test's own control client
    Traffic(server).call(label="secret-call")
    for path in ("/dashboard", "/dashboard/app.js"):
        status, headers, body = server.http("GET", path)
        assert status == 401 and b"secret-call" not in body
        assert headers["www-authenticate"].startswith("Bearer")
        assert server.http("GET", path, headers={"Authorization": "Bearer wrong"})[0] == 401
    # the WebSocket: no handshake, so no data, without a login
    assert refused(server) == 401
    assert refused(server, headers={"Authorization": "Bearer wrong"}) == 401

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert server.http("GET", "/dashboard", headers=bearer)[0] == 200
    with open_ws(server, headers=bearer) as conn:
        assert conn.subprotocol == SUBPROTOCOL
        assert receive(conn)["calls"]["rows"][0]["labels"] == "secret-call"


def test_basic_login_over_https(start: Callable[..., ServerProcess], tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    users = tmp_path / "users"
    users.write_text(f"operator:{hash_password(TOKEN)}\n")
    server = start("--dashboard", f"--http-auth-basic-file={users}", "--http-auth-loopback",
                   "--listen-http=127.0.0.1:0", "--listen-https=127.0.0.1:0",
                   f"--https-cert={cert}", f"--https-key={key}")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def get(headers: dict[str, str]) -> tuple[int, str | None]:
        host, port = server.address("https")
        conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
        try:
            conn.request("GET", "/dashboard", headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status, response.getheader("WWW-Authenticate")
        finally:
            conn.close()

    status, challenge = get({})
    assert status == 401 and challenge and challenge.startswith("Basic")
    basic = "Basic " + base64.b64encode(f"operator:{TOKEN}".encode()).decode()
    wrong = "Basic " + base64.b64encode(b"operator:nope").decode()
    assert get({"Authorization": wrong})[0] == 401
    assert get({"Authorization": basic})[0] == 200
    assert refused(server, secure=True) == 401
    with open_ws(server, secure=True, headers={"Authorization": basic}) as conn:
        assert receive(conn, "history")["type"] == "history"


@pytest.mark.parametrize(("peer", "options", "allowed"), [
    (("127.0.0.1", 5000), (), True),
    (("127.0.0.2", 5000), (), True),
    (("::1", 5000), (), True),
    (("192.0.2.10", 5000), (), False),  # another host, and nobody checked it
    (("2001:db8::1", 5000), (), False),
    (None, (), False),
    (("192.0.2.10", 5000), (f"--http-auth-token={TOKEN}",), True),  # the transport checked
    (("192.0.2.10", 5000), (f"--http-auth-token={TOKEN}", "--http-auth-exempt=/dashboard",
                            "--http-auth-exempt=dashboard.rtpgate"), False),
])
async def test_other_hosts_need_a_login(peer: tuple[str, int] | None, options: tuple[str, ...],
                                        allowed: bool) -> None:
    """The protocol called directly with the peer a transport would give: a connection from
    another host gets data only past a login the transports enforce."""
    runtime = make_runtime(rtpgate_dashboard.plugin, args=["--dashboard", *options])
    protocol = DashboardProtocol(runtime, Access(runtime.settings.view(AccessSettings), PATH,
                                                 SUBPROTOCOL))
    page = await protocol.handle(Message(b"", "http", peer=peer, method="GET", path=PATH))
    handshake = protocol.ws_handshake(Message(b"", "ws", peer=peer, method="GET", path=PATH))
    assert page is not None
    if allowed:
        assert page.status == 200 and b"<title>rtpgate dashboard</title>" in page.body
        assert handshake is None
    else:
        assert page.status == 401 and b"login required" in page.body
        assert handshake is not None and handshake.status == 401


def test_client_certificates_count_as_a_login_over_https_only() -> None:
    settings = make_runtime(args=["--https-client-ca=ca.pem"]).settings
    access = Access(settings.view(AccessSettings), PATH, SUBPROTOCOL)
    other = ("192.0.2.10", 5000)
    assert access.allowed(Message(b"", "https", peer=other))
    assert access.allowed(Message(b"", "wss", peer=other), websocket=True)
    assert not access.allowed(Message(b"", "http", peer=other))
    assert not access.allowed(Message(b"", "ws", peer=other), websocket=True)


def until(conn: ClientConnection, check: Callable[[dict[str, Any]], bool],
          timeout: float = 5.0) -> dict[str, Any]:
    """The first tick that passes ``check`` (a tick pushed just before the server saw a view
    change still shows the old view)."""
    deadline = time.monotonic() + timeout
    tick = receive(conn, timeout=timeout)
    while not check(tick):
        if time.monotonic() > deadline:
            raise AssertionError(f"no tick passed the check; the last: {tick}")
        tick = receive(conn, timeout=max(0.01, deadline - time.monotonic()))
    return tick


def test_calls_table_is_paged_filtered_and_sorted_on_the_server(
        start: Callable[..., ServerProcess]) -> None:
    server = start("--dashboard")
    traffic = Traffic(server)
    ids = [traffic.call(label=f"label-{n:02d}") for n in range(30)]
    with open_ws(server) as conn:
        receive(conn)
        conn.send(json.dumps({"view": {"limit": 10, "sort": "call_id", "descending": False}}))
        page = until(conn, lambda t: t["calls"]["sort"] == "call_id")["calls"]
        assert (page["total"], page["matched"], len(page["rows"])) == (30, 30, 10)
        assert [r["call_id"] for r in page["rows"]] == sorted(ids)[:10]

        conn.send(json.dumps({"view": {"offset": 20, "descending": True}}))
        page = until(conn, lambda t: t["calls"]["offset"] == 20)["calls"]
        assert [r["call_id"] for r in page["rows"]] == sorted(ids, reverse=True)[20:30]

        conn.send(json.dumps({"view": {"filter": "LABEL-07", "offset": 0}}))
        page = until(conn, lambda t: t["calls"]["filter"] == "LABEL-07")["calls"]
        assert (page["matched"], [r["call_id"] for r in page["rows"]]) == (1, [ids[7]])

        conn.send(json.dumps({"view": {"filter": "", "sort": "labels", "call": ids[3]}}))
        tick = until(conn, lambda t: t["call"] is not None)
        assert [r["labels"] for r in tick["calls"]["rows"]] == \
            [f"label-{n:02d}" for n in range(29, 19, -1)]
        call = tick["call"]
        assert call["call_id"] == ids[3] and not call["gone"]
        assert [leg["tag"] for leg in call["legs"]] == [f"{ids[3]}-a", f"{ids[3]}-b"]
        streams = call["legs"][0]["medias"][0]["streams"]
        assert [s["component"] for s in streams] == [1, 2] and streams[1]["rtcp"]

        traffic.delete(ids[3])
        assert until(conn, lambda t: t["call"]["gone"])["call"] == \
            {"call_id": ids[3], "gone": True}

        # nonsense changes nothing and breaks nothing
        for junk in (b"\xff\xfe", b"[]", b'{"view": 3}',
                     b'{"view": {"limit": 7, "sort": "nope", "offset": -5}}'):
            conn.send(junk)
        conn.send(json.dumps({"view": {"call": None}}))
        tick = until(conn, lambda t: t["call"] is None)
        assert (tick["calls"]["limit"], tick["calls"]["sort"]) == (10, "labels")
        assert tick["calls"]["total"] == 29
    assert statistics(server)["currentstatistics"]["sessionstotal"] == 29


def test_ice_and_dtls_state_where_the_engine_has_them(
        start: Callable[..., ServerProcess]) -> None:
    """A plain RTP caller and a WebRTC callee: the callee's leg shows ICE and DTLS state (from
    the engine's media), the plain leg none."""
    server = start("--dashboard")
    plain = ("v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
             "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")
    webrtc = ("v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
              "m=audio 41000 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\n"
              "a=setup:active\r\na=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
              "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
              "a=candidate:1 1 UDP 2130706431 127.0.0.1 41000 typ host\r\na=sendrecv\r\n")
    ng(server, "offer", call_id="webrtc", from_tag="a", sdp=plain, ICE="force",
       transport_protocol="UDP/TLS/RTP/SAVPF")
    ng(server, "answer", call_id="webrtc", from_tag="a", to_tag="b", sdp=webrtc)
    with open_ws(server) as conn:
        conn.send(json.dumps({"view": {"call": "webrtc"}}))
        tick = until(conn, lambda t: t["call"] is not None)
    plain_leg, webrtc_leg = tick["calls"]["rows"][0]["legs"]
    assert (plain_leg["protocols"], plain_leg["ice"], plain_leg["dtls"]) == (["RTP/AVP"], None,
                                                                             None)
    assert webrtc_leg["protocols"] == ["UDP/TLS/RTP/SAVPF"]
    assert webrtc_leg["ice"] in ("new", "checking", "completed", "failed", "disconnected")
    assert webrtc_leg["dtls"] in ("new", "connecting", "connected", "failed")
    media = tick["call"]["legs"][1]["medias"][0]
    assert (media["ice"], media["dtls"]) == (webrtc_leg["ice"], webrtc_leg["dtls"])
    assert tick["call"]["legs"][0]["medias"][0]["ice"] is None


def test_publish_subscribe_legs(start: Callable[..., ServerProcess]) -> None:
    """A publisher and its subscriber: the call page says which leg is which and what the
    subscriber receives."""
    server = start("--dashboard")
    published = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                 "m=audio 40000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\n")
    ng(server, "publish", call_id="pubsub", from_tag="pub", sdp=published)
    ng(server, "subscribe request", call_id="pubsub", from_tag="pub", to_tag="sub")
    with open_ws(server) as conn:
        conn.send(json.dumps({"view": {"call": "pubsub"}}))
        tick = until(conn, lambda t: t["call"] is not None)
    legs = {leg["tag"]: leg for leg in tick["call"]["legs"]}
    assert (legs["pub"]["kind"], legs["pub"]["subscribed_to"]) == ("publish", [])
    assert (legs["sub"]["kind"], legs["sub"]["subscribed_to"]) == ("subscribe", ["pub"])


def serving_worker(tick: dict[str, Any]) -> int:
    """The worker whose WebSocket sent ``tick`` (0 with one worker)."""
    workers = tick["summary"].get("workers")
    return 0 if workers is None else int(workers["serving"])


def test_the_whole_server_whichever_worker_serves_the_page(
        start: Callable[..., ServerProcess]) -> None:
    """With several workers (RTPGATE_TEST_WORKERS) every worker's calls and counters appear
    exactly once on a page served by any of them, and a call's page opens from its owner."""
    count = worker_count()
    server = start("--dashboard")
    traffic = Traffic(server)
    call_ids = [traffic.call(label=f"w{owner}-{n}", owner=owner)
                for owner in range(count) for n in range(2)]
    assert {call_owner(call_id) for call_id in call_ids} == set(range(count))
    stats = statistics(server)["currentstatistics"]
    assert stats["sessionstotal"] == len(call_ids)

    served: set[int] = set()
    deadline = time.monotonic() + 60
    while served != set(range(count)):
        assert time.monotonic() < deadline, f"no page served by {set(range(count)) - served}"
        with open_ws(server) as conn:
            # the summary is each worker's last sample (once a second), the rows are current
            tick = until(conn, lambda t: t["calls"]["total"] == len(call_ids)
                         and t["summary"]["sessions"]["total"] == len(call_ids))
            worker = serving_worker(tick)
            if worker in served:
                continue
            served.add(worker)
            summary = tick["summary"]
            if count > 1:
                assert summary["workers"] == {"count": count, "serving": worker,
                                              "answered": list(range(count)), "missing": []}
            assert sorted(r["call_id"] for r in tick["calls"]["rows"]) == sorted(call_ids)
            assert summary["sessions"]["total"] == len(call_ids)
            offers = next(r for r in summary["signalling"] if r["command"] == "offer")
            assert offers["total"] == len(call_ids)
            assert sum(c["counts"].get("offer", 0) for c in summary["clients"]) == len(call_ids)
            [interface] = summary["interfaces"]
            ports = interface["ports"]
            assert ports["max"] - ports["min"] + 1 == 1000  # every worker's share, once
            assert ports["used"] + ports["free"] == 1000 and ports["used"] > 0
            # each call's page, whichever worker owns it
            for call_id in call_ids:
                conn.send(json.dumps({"view": {"call": call_id}}))
                call = until(conn, lambda t, c=call_id: t["call"] is not None
                             and t["call"]["call_id"] == c)["call"]
                assert not call["gone"]
                assert [leg["tag"] for leg in call["legs"]] == [f"{call_id}-a", f"{call_id}-b"]
    # the chart history (sent on connecting), every worker's points summed per tick
    with open_ws(server) as conn:
        assert receive(conn, "history")["points"][-1][1] == len(call_ids)


def test_a_worker_that_does_not_answer_is_left_out(start: Callable[..., ServerProcess]) -> None:
    """A stopped worker holds no page served by another: its part is left out and the page
    names it, and it is back once the worker answers again."""
    count = worker_count()
    if count < 2:
        pytest.skip("one worker: there is no other worker to leave out (RTPGATE_TEST_WORKERS=2)")
    server = start("--dashboard")
    traffic = Traffic(server)
    call_ids = [traffic.call(owner=owner) for owner in range(count)]
    stopped = server.serving_pids[1]
    os.kill(stopped, signal.SIGSTOP)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "no page served by a running worker"
            try:
                conn = open_ws(server)  # one that lands on the stopped worker gets no handshake
            except TimeoutError:
                continue
            with conn:
                tick = until(conn, lambda t: t["summary"]["workers"]["missing"] == [1])
                assert serving_worker(tick) != 1
                assert [r["call_id"] for r in tick["calls"]["rows"]] == \
                    [c for c in call_ids if call_owner(c) != 1]
                assert tick["summary"]["sessions"]["total"] == count - 1
                first, second = receive(conn), receive(conn)
                assert second["summary"]["time"] - first["summary"]["time"] < 2.5
                os.kill(stopped, signal.SIGCONT)
                tick = until(conn, lambda t: t["summary"]["workers"]["missing"] == [])
                assert tick["calls"]["total"] == count
                break
    finally:
        os.kill(stopped, signal.SIGCONT)
