"""An SDES-SRTP party recorded: the pcap holds its packets decrypted, as rtpengine records
(after ``media_packet_decrypt``), so the call's audio can be read from it; with the native read
loop, it decrypts and records them itself (``recording_packets_native_total``)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from pathlib import Path

import pylibsrtp
from callhelp import LOCAL, ng, read_pcap, relay_port, rtp, sdp, udp, wait_for
from rtpgate.testing import ServerProcess
from test_native_recording import NATIVE, native_count


def _session(key: bytes, outbound: bool) -> pylibsrtp.Session:
    kind = (pylibsrtp.Policy.SSRC_ANY_OUTBOUND if outbound
            else pylibsrtp.Policy.SSRC_ANY_INBOUND)
    return pylibsrtp.Session(policy=pylibsrtp.Policy(
        key=key, ssrc_type=kind, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80))


def test_srtp_party_is_recorded_in_the_clear(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    server = rtpgate_server(f"--recording-dir={spool}", "--delete-delay=0")
    a, b = udp(), udp()
    key = os.urandom(30)
    crypto = f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{base64.b64encode(key).decode()}\r\n"
    offer_sdp = sdp(a.getsockname()[1]).replace("RTP/AVP", "RTP/SAVP").replace(
        "a=sendrecv\r\n", crypto + "a=sendrecv\r\n")
    call_id = "srtp-recorded"
    offer = ng(server, "offer", **{"call-id": call_id, "from-tag": "a", "sdp": offer_sdp,
                                   "transport-protocol": "RTP/AVP", "record call": "yes"})
    assert "RTP/AVP" in offer["sdp"] and "a=crypto" not in offer["sdp"], offer
    answer = ng(server, "answer", **{"call-id": call_id, "from-tag": "a", "to-tag": "b",
                                     "sdp": sdp(b.getsockname()[1])})
    found = re.search(r"a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:([A-Za-z0-9+/=]+)",
                      answer["sdp"])
    assert found, answer
    to_a = _session(base64.b64decode(found.group(1) + "=" * (-len(found.group(1)) % 4)),
                    outbound=False)
    from_a = _session(key, outbound=True)
    plain_a = [rtp(i, bytes([i]) * 160, 0xA) for i in range(10)]
    plain_b = [rtp(i, bytes([100 + i]) * 160, 0xB) for i in range(10)]
    for pa, pb in zip(plain_a, plain_b, strict=True):
        a.sendto(from_a.protect(pa), (LOCAL, relay_port(answer)))
        assert b.recv(4096) == pa  # decrypted for the plain side
        b.sendto(pb, (LOCAL, relay_port(offer)))
        assert to_a.unprotect(a.recv(4096)) == pb  # encrypted for the SRTP side
    assert ng(server, "delete", **{"call-id": call_id})["result"] == "ok"
    meta = wait_for(lambda: list((spool / "metadata").glob("*.txt")), what="metadata")
    pcap_file = Path(meta[0].read_text().splitlines()[0])
    recorded = [c.data for c in read_pcap(pcap_file)]
    assert recorded == [p for pair in zip(plain_a, plain_b, strict=True) for p in pair]
    if NATIVE:  # all but each side's first packet (Python learns its address)
        assert native_count(server) >= 2 * len(plain_a) - 4
    else:
        assert native_count(server) == 0
