"""Trickle ICE and ICE restarts against rtpgate's full ICE agent, over real sockets.

A browser-like party offers with ``a=ice-options:trickle``, ``c=IN IP4 0.0.0.0`` and no
candidates; its candidate arrives later in an ng ``offer`` with the ``fragment`` flag (an SDP
fragment, as a proxy relays a trickle INFO).  rtpgate's agent must then check that candidate
with the party's credentials; after a re-offer with new credentials (an ICE restart) its checks
carry the new ones.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable

import pytest
from aioice import stun
from media_calls import LOCAL, ng
from rtpgate.testing import ServerProcess, media_ports


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(200))


def browser_offer(ufrag: str, pwd: str) -> str:
    return ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n"
            f"a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=ice-options:trickle\r\n"
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
            "a=setup:actpass\r\na=mid:0\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=sendrecv\r\n")


def phone(port: int) -> str:
    return (f"v=0\r\no=phone 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n")


def check_from_rtpgate(sock: socket.socket, username_prefix: str, pwd: str,
                       timeout: float = 5.0) -> stun.Message:
    """The next connectivity check rtpgate sends to ``sock`` whose USERNAME starts with
    ``username_prefix`` (checks for earlier credentials are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data, _ = sock.recvfrom(4096)
        except TimeoutError:
            break
        message = stun.parse_message(data)
        if (message.message_class == stun.Class.REQUEST
                and message.attributes["USERNAME"].startswith(username_prefix)):
            assert message.check_message_integrity(pwd.encode())
            return message
    raise AssertionError(f"no check for {username_prefix!r} within {timeout} s")


def test_trickled_candidate_is_checked_and_an_ice_restart_changes_the_credentials(
        server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    browser = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    browser.bind((LOCAL, 0))
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind((LOCAL, 0))
    try:
        pwd = "3xKpQ9m2LbVzR8tYwN5cJh1D"
        keys = {"ICE": "remove", "DTLS": "off", "transport-protocol": "RTP/AVP",
                "rtcp-mux": ["demux"]}
        back = {"ICE": "force", "DTLS": "passive", "transport-protocol": "UDP/TLS/RTP/SAVPF"}
        assert ng(server, "offer", call_id=call_id, from_tag="browser",
                  sdp=browser_offer("Fq7b", pwd), **keys)["result"] == "ok"
        answer = ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                    sdp=phone(sip.getsockname()[1]), **back)
        assert answer["result"] == "ok", answer
        assert "a=candidate:" in answer["sdp"]

        candidate = f"a=candidate:1 1 udp 2122260223 {LOCAL} {browser.getsockname()[1]} typ host"
        fragment = f"a=ice-ufrag:Fq7b\r\na=mid:0\r\n{candidate}\r\n"
        reply = ng(server, "offer", call_id=call_id, from_tag="browser", sdp=fragment,
                   flags=["fragment"])
        assert reply == {"result": "ok"}, reply
        check = check_from_rtpgate(browser, "Fq7b:", pwd)
        assert "ICE-CONTROLLED" in check.attributes  # the browser offered: it controls

        # ICE restart: the browser re-offers with new credentials and trickles again
        new_pwd = "Vb8nQw4eLr6TyU1iOp3aSd7f"
        assert ng(server, "offer", call_id=call_id, from_tag="browser",
                  sdp=browser_offer("Zz9y", new_pwd), **keys)["result"] == "ok"
        assert ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                  sdp=phone(sip.getsockname()[1]), **back)["result"] == "ok"
        reply = ng(server, "offer", call_id=call_id, from_tag="browser",
                   sdp=f"a=ice-ufrag:Zz9y\r\na=mid:0\r\n{candidate}\r\n", flags=["fragment"])
        assert reply == {"result": "ok"}
        check_from_rtpgate(browser, "Zz9y:", new_pwd)

        # a fragment for a call or party rtpgate does not know changes nothing
        assert ng(server, "offer", call_id="no-such-call", from_tag="x", sdp=fragment,
                  flags=["fragment"]) == {"result": "ok"}
        assert ng(server, "list")["calls"] == [call_id]
    finally:
        browser.close()
        sip.close()


def test_ice_lite_answers_checks_but_sends_none(server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind((LOCAL, 0))
    try:
        port = callee.getsockname()[1]
        offer = ng(server, "offer", call_id=call_id, from_tag="a", sdp=phone(40000),
                   ICE="force", **{"ICE-lite": "forward"})
        assert "\r\na=ice-lite\r\n" in offer["sdp"], offer["sdp"]
        ufrag = offer["sdp"].split("a=ice-ufrag:")[1].split("\r\n")[0]
        pwd = offer["sdp"].split("a=ice-pwd:")[1].split("\r\n")[0]
        relay = int(offer["sdp"].split("m=audio ")[1].split()[0])
        answer = phone(port).replace(
            "a=sendrecv", f"a=ice-ufrag:k2Pz\r\na=ice-pwd:{'x' * 22}\r\n"
            f"a=candidate:1 1 udp 2122260223 {LOCAL} {port} typ host\r\na=sendrecv")
        assert ng(server, "answer", call_id=call_id, from_tag="a", to_tag="b", sdp=answer,
                  ICE="force", **{"ICE-lite": "forward"})["result"] == "ok"
        callee.settimeout(1.0)
        with pytest.raises(TimeoutError):  # a lite agent never checks
            callee.recvfrom(4096)
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.attributes.update({"USERNAME": f"{ufrag}:k2Pz", "PRIORITY": 1,
                                   "ICE-CONTROLLING": 1, "USE-CANDIDATE": None})
        request.add_message_integrity(pwd.encode())
        callee.sendto(bytes(request), (LOCAL, relay))
        reply = stun.parse_message(callee.recvfrom(4096)[0])
        assert reply.message_class == stun.Class.RESPONSE
        assert reply.transaction_id == request.transaction_id
        query = ng(server, "query", call_id=call_id)
        assert "ICE controlling" not in query["tags"]["b"]["medias"][0]["flags"]
        assert "confirmed" in query["tags"]["b"]["medias"][0]["streams"][0]["flags"]
    finally:
        callee.close()


def test_fragment_before_its_offer_waits_for_it(server: ServerProcess) -> None:
    """rtpengine 10.5 queues a fragment for a call or party it does not know yet and applies it
    after that party's offer or answer (if it is at most 3 s old); so does rtpgate."""
    call_id = uuid.uuid4().hex
    browser = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    browser.bind((LOCAL, 0))
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind((LOCAL, 0))
    try:
        pwd = "3xKpQ9m2LbVzR8tYwN5cJh1D"
        candidate = f"a=candidate:1 1 udp 2122260223 {LOCAL} {browser.getsockname()[1]} typ host"
        reply = ng(server, "offer", call_id=call_id, from_tag="browser",
                   sdp=f"a=ice-ufrag:Fq7b\r\na=mid:0\r\n{candidate}\r\n", flags=["fragment"])
        assert reply == {"result": "ok"}, reply
        assert ng(server, "list")["calls"] == []  # queued, no call made for it
        assert ng(server, "offer", call_id=call_id, from_tag="browser",
                  sdp=browser_offer("Fq7b", pwd), ICE="remove", DTLS="off",
                  **{"transport-protocol": "RTP/AVP", "rtcp-mux": ["demux"]})["result"] == "ok"
        assert ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                  sdp=phone(sip.getsockname()[1]), ICE="force", DTLS="passive",
                  **{"transport-protocol": "UDP/TLS/RTP/SAVPF"})["result"] == "ok"
        check_from_rtpgate(browser, "Fq7b:", pwd)
    finally:
        browser.close()
        sip.close()


def test_fragment_without_its_offer_is_not_checked(server: ServerProcess) -> None:
    """The same call, but the queued fragment is for another party: nothing is checked."""
    call_id = uuid.uuid4().hex
    browser = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    browser.bind((LOCAL, 0))
    try:
        candidate = f"a=candidate:1 1 udp 2122260223 {LOCAL} {browser.getsockname()[1]} typ host"
        assert ng(server, "offer", call_id=call_id, from_tag="someone-else",
                  sdp=f"a=ice-ufrag:Fq7b\r\na=mid:0\r\n{candidate}\r\n",
                  flags=["fragment"]) == {"result": "ok"}
        assert ng(server, "offer", call_id=call_id, from_tag="browser",
                  sdp=browser_offer("Fq7b", "3xKpQ9m2LbVzR8tYwN5cJh1D"), ICE="remove",
                  DTLS="off", **{"transport-protocol": "RTP/AVP"})["result"] == "ok"
        assert ng(server, "answer", call_id=call_id, from_tag="browser", to_tag="sip",
                  sdp=phone(40000), ICE="force", DTLS="passive",
                  **{"transport-protocol": "UDP/TLS/RTP/SAVPF"})["result"] == "ok"
        browser.settimeout(1.5)
        with pytest.raises(TimeoutError):
            browser.recvfrom(4096)
    finally:
        browser.close()


def software_first(data: bytes) -> str:
    """The value of the STUN message's first attribute, which must be ``SOFTWARE``."""
    kind, length = int.from_bytes(data[20:22], "big"), int.from_bytes(data[22:24], "big")
    assert kind == 0x8022, f"first attribute {kind:#06x}, not SOFTWARE"
    return data[24:24 + length].decode()


def test_stun_messages_name_the_software_first(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """As rtpengine's, every STUN message of rtpgate's ICE agent (its checks, success and
    error responses) starts with a ``SOFTWARE`` attribute saying ``--software-id``."""
    server = rtpgate_server("--delete-delay=0", "--software-id=acme-sbc-7", *media_ports(200))
    call_id = uuid.uuid4().hex
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind((LOCAL, 0))
    try:
        port = callee.getsockname()[1]
        offer = ng(server, "offer", call_id=call_id, from_tag="a", sdp=phone(40000),
                   ICE="force")
        ufrag = offer["sdp"].split("a=ice-ufrag:")[1].split("\r\n")[0]
        pwd = offer["sdp"].split("a=ice-pwd:")[1].split("\r\n")[0]
        relay = int(offer["sdp"].split("m=audio ")[1].split()[0])
        their_pwd = "q" * 22
        answer = phone(port).replace(
            "a=sendrecv", f"a=ice-ufrag:k2Pz\r\na=ice-pwd:{their_pwd}\r\n"
            f"a=candidate:1 1 udp 2122260223 {LOCAL} {port} typ host\r\na=sendrecv")
        assert ng(server, "answer", call_id=call_id, from_tag="a", to_tag="b", sdp=answer,
                  ICE="force")["result"] == "ok"
        callee.settimeout(5.0)
        data, _ = callee.recvfrom(4096)
        assert stun.parse_message(data).message_class == stun.Class.REQUEST
        assert software_first(data) == "acme-sbc-7"
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.attributes.update({"USERNAME": f"{ufrag}:k2Pz", "PRIORITY": 1,
                                   "ICE-CONTROLLED": 1})
        for key, code in ((pwd, stun.Class.RESPONSE), ("wrong" * 5, stun.Class.ERROR)):
            request.transaction_id = stun.random_transaction_id()
            request.attributes.pop("MESSAGE-INTEGRITY", None)
            request.attributes.pop("FINGERPRINT", None)
            request.add_message_integrity(key.encode())
            callee.sendto(bytes(request), (LOCAL, relay))
            while True:
                data, _ = callee.recvfrom(4096)
                if stun.parse_message(data).transaction_id == request.transaction_id:
                    break
            assert stun.parse_message(data).message_class == code
            assert software_first(data) == "acme-sbc-7"
    finally:
        callee.close()
