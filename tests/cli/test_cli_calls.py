"""The CLI with calls made over ng (UDP, JSON): the session lists and counts with known state,
``terminate`` freeing the call's ports, ``set maxsessions`` and ``set timeout`` taking effect on
the running server."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable

import pytest
from cli_clients import http_cli, ng_udp
from rtpgate.testing import ServerProcess
from rtpgate.testing import media_ports as free_media_ports

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def ng(server: ServerProcess, **request: object) -> dict[str, object]:
    cookie = f"t{time.monotonic_ns()}".encode()
    reply: dict[str, object] = json.loads(ng_udp(server, json.dumps(request).encode(), cookie))
    return reply


def offer(server: ServerProcess, call_id: str, from_tag: str, port: int) -> dict[str, object]:
    return ng(server, command="offer", **{"call-id": call_id, "from-tag": from_tag,
                                         "sdp": SDP.format(port=port)})


def answer(server: ServerProcess, call_id: str, from_tag: str, to_tag: str,
           port: int) -> dict[str, object]:
    return ng(server, command="answer", **{"call-id": call_id, "from-tag": from_tag,
                                          "to-tag": to_tag, "sdp": SDP.format(port=port)})


def media_ports(reply: dict[str, object]) -> list[int]:
    return [int(p) for p in re.findall(r"m=audio (\d+)", str(reply["sdp"]))]


def cli(server: ServerProcess, command: str) -> str:
    return http_cli(server, command).decode()


@pytest.fixture
def engine_server(cli_server: Callable[..., ServerProcess]) -> Callable[..., ServerProcess]:
    def start(*args: str) -> ServerProcess:
        return cli_server(*free_media_ports(1000), *args)
    return start


def two_offers_one_answer(server: ServerProcess) -> tuple[list[int], list[int]]:
    a = offer(server, "call-a", "from-a", 6000)
    assert a["result"] == "ok", a
    a2 = answer(server, "call-a", "from-a", "to-a", 6002)
    assert a2["result"] == "ok", a2
    b = offer(server, "call-b", "from-b", 6004)
    assert b["result"] == "ok", b
    return media_ports(a) + media_ports(a2), media_ports(b)


def test_sessions_with_known_state(engine_server) -> None:  # type: ignore[no-untyped-def]
    server = engine_server()
    two_offers_one_answer(server)
    numsessions = cli(server, "list numsessions").splitlines()
    assert numsessions[:4] == ["Current sessions own: 2", "Current sessions foreign: 0",
                               "Current sessions total: 2", "Current transcoded media: 0"]
    assert numsessions[4:] == ["Current sessions ipv4 only media: 2",
                               "Current sessions ipv6 only media: 0",
                               "Current sessions ip mixed  media: 0"]
    lines = cli(server, "list sessions all").splitlines()
    pattern = (r"ID: {:>60} \| del:n \| creat: +\d{{10}} \| prx:127\.0\.0\.1:\d+ \| redis: 0 \| "
               r"frgn:n \| rec:n")
    assert len(lines) == 2
    for call_id in ("call-a", "call-b"):
        assert any(re.fullmatch(pattern.format(call_id), line) for line in lines), lines
    info = cli(server, "list sessions call-a")
    assert info.startswith("\ncallid: call-a\ndeletionmark: no\ncreated: ")
    assert "\nforeign: no\nrecording: no\n\n--- Tag 'from-a', type: FROM_TAG, label ''" in info
    assert "\n--- Tag 'to-a', type: TO_TAG, label ''" in info
    assert re.search(r"\n------ Media #1 \(audio over RTP/AVP\) using ", info)
    assert re.search(r"\n-------- Port       127\.0\.0\.1:\d{5} <>       127\.0\.0\.1:6000 , "
                     r"SSRC [0-9a-f]+, \d+ p, \d+ b, \d+ e, \d+ uts \d+ kts\n", info), info
    assert info.endswith("\n\n")
    duration = re.compile(r"callduration \d+\.\d{6}")
    assert duration.sub("D", cli(server, "call call-a info")) == duration.sub("D", info)
    totals = cli(server, "list totals")
    assert " Owned sessions                                  :2\n" in totals
    assert " Total sessions                                  :2\n" in totals
    assert " Total managed sessions                          :0\n" in totals


def _used_ports(server: ServerProcess) -> int:
    match = re.search(r" Ports used: +(\d+) / +1000 ", cli(server, "list interfaces"))
    assert match, cli(server, "list interfaces")
    return int(match.group(1))


def test_terminate_frees_the_ports(engine_server) -> None:  # type: ignore[no-untyped-def]
    server = engine_server()
    ports_a, ports_b = two_offers_one_answer(server)
    used = _used_ports(server)
    assert used >= 4
    assert cli(server, "terminate call-a") == (
        "\nCall Id (call-a) successfully terminated by operator.\n\n")
    assert _used_ports(server) < used
    for port in ports_a:
        for rtp_or_rtcp in (port, port + 1):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", rtp_or_rtcp))  # free again
    assert cli(server, "list sessions call-a") == "\nCall ID not found (call-a).\n\n"
    assert " Total forced terminated sessions                :1\n" in cli(server, "list totals")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(OSError):
        sock.bind(("127.0.0.1", ports_b[0]))  # call-b still holds its ports
    assert cli(server, "terminate all") == "All calls terminated by operator.\n"
    assert cli(server, "list sessions all") == "No sessions on this media relay.\n"


def test_set_maxsessions_zero_refuses_the_next_offer(engine_server) -> None:  # type: ignore[no-untyped-def]
    server = engine_server()
    assert offer(server, "before", "f", 6000)["result"] == "ok"
    assert cli(server, "set maxsessions 0") == "Success setting maxsessions to 0\n"
    refused = offer(server, "after", "f", 6002)
    assert refused == {"result": "error", "error-reason": "Parallel session limit reached"}
    assert cli(server, "set maxsessions -1") == (
        "Success setting maxsessions to -1; disable feature\n")
    assert offer(server, "after", "f", 6002)["result"] == "ok"


def _wait_gone(server: ServerProcess, call_id: str, what: str) -> None:
    deadline = time.monotonic() + 20
    while cli(server, f"list sessions {call_id}") != f"\nCall ID not found ({call_id}).\n\n":
        assert time.monotonic() < deadline, f"{call_id} outlived {what}"
        time.sleep(0.2)


def test_set_timeouts_apply_to_running_calls(engine_server) -> None:  # type: ignore[no-untyped-def]
    server = engine_server()
    two_offers_one_answer(server)  # call-a answered, call-b waiting for its answer
    assert cli(server, "set timeout 1") == "Success setting timeout to 1\n"
    _wait_gone(server, "call-a", "a 1 s timeout without media")
    assert cli(server, "list sessions call-b").startswith("\ncallid: call-b\n")  # offer-timeout
    assert " Total timed-out sessions via TIMEOUT            :1\n" in cli(server, "list totals")
    assert cli(server, "set offertimeout 1") == "Success setting timeout to 1\n"
    _wait_gone(server, "call-b", "a 1 s offer-timeout")
    totals = cli(server, "list totals")
    assert " Total timed-out sessions via OFFER_TIMEOUT      :1\n" in totals
    assert " Total managed sessions                          :2\n" in totals


#: The line kinds of rtpengine 10.5's ``list sessions <call-id>`` (cli_list_call_info and
#: cli_list_tag_info): it prints no ICE or DTLS state, checked with rtpengine-ctl (docs/webrtc.md).
CALL_INFO_LINES = ("callid: ", "alias: ", "deletionmark: ", "created: ", "proxy: ", "tos: ",
                   "last_signal: ", "redis_keyspace: ", "last redis update: ", "foreign: ",
                   "recording: ", "--- Tag '", "---     ", "------ Media #", "-------- Port ")


def test_call_info_of_an_ice_dtls_call_keeps_rtpengines_lines(  # type: ignore[no-untyped-def]
        engine_server) -> None:
    server = engine_server()
    o = ng(server, command="offer", **{"call-id": "call-w", "from-tag": "from-w",
                                      "sdp": SDP.format(port=6010), "ICE": "force",
                                      "transport-protocol": "UDP/TLS/RTP/SAVPF"})
    assert o["result"] == "ok" and "a=fingerprint:" in str(o["sdp"]), o
    assert "a=ice-ufrag:" in str(o["sdp"])
    assert answer(server, "call-w", "from-w", "to-w", 6012)["result"] == "ok"
    info = cli(server, "list sessions call-w")
    assert info.count("\n------ Media #1 (audio over ") == 2, info
    for line in info.splitlines():
        assert not line or line.startswith(CALL_INFO_LINES), line
    assert "ICE" not in info and "DTLS" not in info and "fingerprint" not in info
