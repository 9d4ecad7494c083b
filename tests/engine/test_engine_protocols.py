"""transport-protocol conversion between every pair of RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF,
UDP/TLS/RTP/SAVP and UDP/TLS/RTP/SAVPF, over ng against a real server: the callee gets the
requested protocol with the keying rtpengine offers for it, the caller is answered in its own
protocol with its own keying (SDES to an SDES caller, DTLS to a DTLS caller, none to a plain
one)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable
from itertools import product

from engine_client import answer, answer_sdp, delete, new_call_id, offer, sdp
from rtpgate.testing import ServerProcess, media_ports

PROTOCOLS = ["RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP",
             "UDP/TLS/RTP/SAVPF"]
FINGERPRINT = "a=fingerprint:sha-256 " + ":".join(["5A"] * 32) + "\r\n"


def keying(proto: str, setup: str) -> str:
    """What a party speaking ``proto`` puts in its SDP: an SDES key, a DTLS fingerprint, or
    nothing."""
    if proto.startswith("UDP/TLS/"):
        return f"a=setup:{setup}\r\n" + FINGERPRINT
    if "SAVP" in proto:
        key = base64.b64encode(os.urandom(30)).decode()
        return f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
    return ""


def party_sdp(make: Callable[..., str], proto: str, setup: str) -> str:
    media = ("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
             f"{keying(proto, setup)}a=sendrecv\r\n")
    return make(codecs="0 8", media=media).replace(" RTP/AVP ", f" {proto} ")


def m_protocol(text: str) -> str:
    found = re.search(r"^m=audio \d+ (\S+) ", text, re.M)
    assert found, text
    return found.group(1)


def test_every_pair_of_transport_protocols(rtpgate_server: Callable[..., ServerProcess]
                                           ) -> None:
    server = rtpgate_server("--delete-delay=0", *media_ports(300))
    wrong = []
    for caller, callee in product(PROTOCOLS, PROTOCOLS):
        call = new_call_id()
        o = offer(server, call, sdp=party_sdp(sdp, caller, "actpass"),
                  transport_protocol=callee)
        text = o.get("sdp", "")
        srtp = "SAVP" in callee
        got = (o["result"], m_protocol(text) if text else None, "a=crypto:" in text,
               "a=fingerprint:" in text)
        if got != ("ok", callee, srtp, srtp):
            wrong.append((caller, callee, "offer", got))
            delete(server, call)
            continue
        bob = party_sdp(answer_sdp, callee, "active")
        if "a=crypto:" in bob:  # answer with the tag rtpgate gave AES_CM_128_HMAC_SHA1_80
            tag = re.search(r"^a=crypto:(\d+) AES_CM_128_HMAC_SHA1_80 ", text, re.M)
            assert tag, text
            bob = bob.replace("a=crypto:1 ", f"a=crypto:{tag.group(1)} ")
        a = answer(server, call, sdp=bob)
        text = a.get("sdp", "")
        sdes, dtls = "SAVP" in caller and "UDP/TLS" not in caller, "UDP/TLS" in caller
        got = (a["result"], m_protocol(text) if text else None, "a=crypto:" in text,
               "a=fingerprint:" in text)
        if got != ("ok", caller, sdes, dtls):
            wrong.append((caller, callee, "answer", got))
        delete(server, call)
    assert wrong == []
