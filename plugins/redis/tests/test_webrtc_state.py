"""What rtpengine forgets and rtpgate keeps across a restart: ICE credentials and role, the
party's ICE and DTLS description, rtpgate's DTLS role (issue 14)."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pylibsrtp
from calls import LOCAL, MediaParty, ng, relay_port, rtp, sdp, wait_for
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import media_ports
from rtpgate_redis import blob

BROWSER_FINGERPRINT = ":".join(["AB"] * 32)


def browser_answer(port: int) -> str:
    return (f"v=0\r\no=- 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n"
            "a=ice-ufrag:brws\r\na=ice-pwd:browserpassword0123456789\r\n"
            f"a=candidate:1 1 udp 2130706431 {LOCAL} {port} typ host\r\n"
            f"a=fingerprint:sha-256 {BROWSER_FINGERPRINT}\r\na=setup:active\r\n"
            "a=rtcp-mux\r\na=sendrecv\r\n")


def ice_lines(text: str) -> list[str]:
    return re.findall(r"^a=(?:ice-ufrag|ice-pwd|setup):\S+", text, re.M)


def media_flags(query: dict[str, Any]) -> dict[str, list[str]]:
    return {tag: value["medias"][0]["flags"] for tag, value in query["tags"].items()}


def test_ice_and_dtls_state_survive_a_restart(redis_server: RedisServer, node: Any) -> None:
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    offer_sdp = sdp("phone", 40000)
    keys = {"call_id": "webrtc", "from_tag": "phone", "sdp": offer_sdp, "ICE": "force",
            "transport_protocol": "UDP/TLS/RTP/SAVPF", "rtcp_mux": ["offer"]}
    offer = ng(server, "offer", **keys)
    assert offer["result"] == "ok", offer
    answer = ng(server, "answer", call_id="webrtc", from_tag="phone", to_tag="browser",
                sdp=browser_answer(40100), ICE="remove", DTLS="off",
                transport_protocol="RTP/AVP")
    assert answer["result"] == "ok", answer
    before = ice_lines(ng(server, "offer", **keys)["sdp"])
    assert len(before) == 3, before
    flags = media_flags(ng(server, "query", call_id="webrtc"))
    assert {"ICE", "DTLS-SRTP"} <= set(flags["browser"]), flags
    # writes follow the reply (after a short gathering window): wait until every change is in
    wait_for(lambda: "redis_pending 0.0" in server.http("GET", "/metrics")[2].decode(),
             what="every change written")
    stored = redis_server.client(1).get("webrtc")
    assert stored is not None and b"browserpassword0123456789" in stored
    assert BROWSER_FINGERPRINT.encode() in stored
    server.kill()

    server = node(*args)
    assert media_flags(ng(server, "query", call_id="webrtc")) == flags
    assert ice_lines(ng(server, "offer", **keys)["sdp"]) == before


def sdes_state(redis_server: RedisServer, call_id: str) -> list[tuple[Any, Any]]:
    raw = redis_server.client(1).get(call_id)
    if raw is None:
        return []
    stored = blob.decode(raw)
    extras = stored["rtpgate"]
    return [(extras[key]["sdes_in"], extras[key]["sdes_out"]) for key in sorted(extras)
            if key.startswith("media-")]


def test_sdes_keys_survive_a_restart(redis_server: RedisServer, node: Any) -> None:
    """The SDES keys both ways (the party's and rtpgate's) are restored: what the restarted
    node writes for the call after a change has the same keys."""
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    offer = ng(server, "offer", call_id="sdes", from_tag="phone", sdp=sdp("phone", 40200),
               transport_protocol="RTP/SAVP")
    assert offer["result"] == "ok", offer
    answer = ng(server, "answer", call_id="sdes", from_tag="phone", to_tag="srtp",
                sdp=sdp("srtp", 40300).replace("RTP/AVP", "RTP/SAVP")
                + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
                  "inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\n",
                transport_protocol="RTP/AVP")
    assert answer["result"] == "ok", answer
    wait_for(lambda: any(sdes_in for sdes_in, _ in sdes_state(redis_server, "sdes")),
             what="the answered call written with the party's key")
    before = sdes_state(redis_server, "sdes")
    server.kill()
    server = node(*args)
    assert ng(server, "block media", call_id="sdes", from_tag="phone")["result"] == "ok"
    wait_for(lambda: b'"block_media":"1"' in (redis_server.client(1).get("sdes") or b"")
             or b"11:block_media1:1" in (redis_server.client(1).get("sdes") or b""),
             what="the restored call written again")
    assert sdes_state(redis_server, "sdes") == before


def test_sdes_rollover_counter_survives_a_restart(redis_server: RedisServer, node: Any) -> None:
    """An SDES party's sequence numbers wrap before the kill: the restarted node decrypts what
    it sends next only with the stored rollover counter (its index is 2^16 higher than the
    sequence number says)."""
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    phone, srtp = MediaParty.open(), MediaParty.open()
    key = "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj"
    try:
        offer = ng(server, "offer", call_id="roc", from_tag="phone", sdp=sdp("phone", phone.port),
                   transport_protocol="RTP/SAVP")
        assert offer["result"] == "ok", offer
        answer = ng(server, "answer", call_id="roc", from_tag="phone", to_tag="srtp",
                    sdp=sdp("srtp", srtp.port).replace("RTP/AVP", "RTP/SAVP")
                    + f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n",
                    transport_protocol="RTP/AVP")
        assert answer["result"] == "ok", answer
        policy = pylibsrtp.Policy(key=base64.b64decode(key),
                                  ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        sender = pylibsrtp.Session(policy)
        relay = relay_port(offer)
        seq = 65536 - 40

        def send_until_heard(count: int) -> bool:
            nonlocal seq
            heard = 0
            deadline = time.monotonic() + 10
            while heard < count and time.monotonic() < deadline:
                srtp.rtp.sendto(sender.protect(rtp(seq & 0xFFFF, 0xC0FFEE)), (LOCAL, relay))
                seq += 1
                time.sleep(0.02)
                heard += phone.drain()
            return heard >= count

        assert send_until_heard(60)  # past the wrap
        assert seq > 65536
        wait_for(lambda: f"{0xC0FFEE}=1".encode() in (redis_server.client(1).get("roc") or b""),
                 what="the rollover counter written")
        server.kill()
        server = node(*args)
        assert send_until_heard(20), "nothing decrypted after the restart"
        stream = ng(server, "query", call_id="roc")["tags"]["srtp"]["medias"][0]["streams"][0]
        assert stream["stats"]["errors"] == 0, stream
    finally:
        phone.close()
        srtp.close()
