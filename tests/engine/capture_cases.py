#!/usr/bin/env python3
"""rtpgate's own offer/answer scenarios, and the tool that records rtpengine's replies to them.

The scenarios below come from the reference notes (``rtpengine-upstream.md`` §2) and from what
rtpengine 10.5 was seen to do; the corpus in ``../shared/conformance`` does not cover them.
Running this file against a real rtpengine 10.5 (started with ``--delete-delay=0``) writes one
case file per scenario into ``cases/``, in the corpus format, so ``sdpconf.py`` can replay them
against rtpgate::

    RTPE_EXTRA="--delete-delay=0" ../shared/tools/start-rtpengine.sh
    python3 tests/engine/capture_cases.py --ng http://127.0.0.1:8080/ng

Scenarios whose replies rtpgate deliberately does not reproduce are left out (rtpengine 10.5
writes ``a=rtpmap:96 /0`` for a dynamic payload type without an rtpmap, for one).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # sdpconf.py, the corpus runner (a copy of the shared one)

A_IP, B_IP = "192.168.10.21", "10.20.30.40"
BASIC = ("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
         "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
FIVE = ("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:9 G722/8000\r\n"
        "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n")


PCMA_ONLY = "a=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
OPUS_ONLY = "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=sendrecv\r\n"
G722_ONLY = "a=rtpmap:9 G722/8000\r\n"
T38 = ("a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"
       "a=T38FaxMaxDatagram:400\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n")
TE_8000 = "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
CN_8000 = "a=rtpmap:13 CN/8000\r\n"
PCMU_SENDRECV = "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
VIDEO = ("m=video 16390 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 VP8/90000\r\n"
         "a=sendrecv\r\n")
MIXED = ("a=rtpmap:0 PCMU/8000\r\na=rtpmap:96 FOO/8000\r\na=rtpmap:97 telephone-event/16000\r\n"
         "a=rtpmap:101 telephone-event/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:98 CN/16000\r\n"
         "a=sendrecv\r\n")
PCMU_PCMA = "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
DECODE_ONLY = ("a=rtpmap:96 iLBC/8000\r\na=fmtp:96 mode=30\r\n"
            "a=rtpmap:97 AMR-WB/16000\r\na=fmtp:97 mode-set=0,1,2\r\n")


def sdp(user: str = "alice", ip: str = A_IP, port: int = 16384, codecs: str = "0 8 101",
        media: str = BASIC, session: str = "", version: int = 3724394400, conn: bool = True,
        extra: str = "", mtype: str = "audio", proto: str = "RTP/AVP") -> str:
    c = f"c=IN IP4 {ip}\r\n" if conn else ""
    return (f"v=0\r\no={user} 3724394400 {version} IN IP4 {ip}\r\ns=-\r\n{c}t=0 0\r\n{session}"
            f"m={mtype} {port} {proto} {codecs}\r\n{media}{extra}")


def bob(**kw: Any) -> str:
    kw.setdefault("port", 20000)
    return sdp(user="bob", ip=B_IP, version=482911, **kw)


def offer(sdp_text: str | None = None, /, **keys: Any) -> dict[str, Any]:
    return {"command": "offer", "call-id": "@call", "from-tag": "@ft",
            "sdp": sdp_text or sdp(), **keys}


def answer(sdp_text: str | None = None, /, **keys: Any) -> dict[str, Any]:
    return {"command": "answer", "call-id": "@call", "from-tag": "@ft", "to-tag": "@tt",
            "sdp": sdp_text or bob(), **keys}


def cmd(command: str, **keys: Any) -> dict[str, Any]:
    return {"command": command, "call-id": "@call", **{k.replace("_", "-"): v
                                                        for k, v in keys.items()}}


QUERY = cmd("query")
DELETE = cmd("delete", from_tag="@ft")

# A browser's offer: UDP/TLS/RTP/SAVPF, rtcp-mux, trickle ICE, DTLS actpass (its fingerprint is
# any certificate's: rtpengine only checks it in the handshake).
FP_256 = ("4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3B:B4:5E:31:2A:55:C1:66:"
          "0E:43:32:A9")
FP_384 = ":".join(["5C"] * 48)


def webrtc(setup: str = "actpass", fingerprint: str = f"sha-256 {FP_256}",
           candidates: bool = True, conn: str = "0.0.0.0", port: int = 9,
           opus: bool = True) -> str:
    cands = ("a=candidate:1467250027 1 udp 2122260223 192.168.10.21 54321 typ host generation 0"
             "\r\n") if candidates else ""
    return (f"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            f"a=group:BUNDLE 0\r\nm=audio {port} UDP/TLS/RTP/SAVPF {'111 ' if opus else ''}0 8"
            "\r\n"
            f"c=IN IP4 {conn}\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Fq7b\r\n"
            f"a=ice-pwd:3xKpQ9m2LbVzR8tYwN5cJh1D\r\na=ice-options:trickle\r\n"
            f"a=fingerprint:{fingerprint}\r\na=setup:{setup}\r\na=mid:0\r\na=sendrecv\r\n"
            f"a=rtcp-mux\r\n{'a=rtpmap:111 opus/48000/2' + chr(13) + chr(10) if opus else ''}"
            "a=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:8 PCMA/8000\r\n{cands}")


TO_SIP = {"ICE": "remove", "DTLS": "off", "transport-protocol": "RTP/AVP",
          "rtcp-mux": ["demux"]}
TO_BROWSER = {"ICE": "force", "transport-protocol": "UDP/TLS/RTP/SAVPF", "SDES": ["off"]}
#: The SIP phone's answer to a browser's offer (only codecs the browser offered).
PHONE = ("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=ptime:20\r\na=sendrecv\r\n")


PHONE_ANSWER = bob(codecs="0 8", media=PHONE)
ICE_A = ("a=ice-ufrag:Fq7b\r\na=ice-pwd:3xKpQ9m2LbVzR8tYwN5cJh1D\r\n"
         "a=candidate:1 1 udp 2122260223 192.168.10.21 16384 typ host\r\n")
#: The caller's ICE with a host, a server-reflexive and a relay (TURN) candidate.
ICE_A_ALL = ("a=ice-ufrag:Fq7b\r\na=ice-pwd:3xKpQ9m2LbVzR8tYwN5cJh1D\r\n"
             "a=candidate:1 1 udp 2122260223 192.168.10.21 16384 typ host\r\n"
             "a=candidate:2 1 udp 1686052607 203.0.113.5 16384 typ srflx raddr 192.168.10.21 "
             "rport 16384\r\n"
             "a=candidate:3 1 udp 41885439 198.51.100.9 50000 typ relay raddr 203.0.113.5 "
             "rport 16384\r\n"
             "a=candidate:1 2 udp 2122260222 192.168.10.21 16385 typ host\r\n")
ICE_B = ("a=ice-ufrag:k2Pz\r\na=ice-pwd:Vb8nQw4eLr6TyU1iOp3aSd7f\r\n"
         "a=candidate:1 1 udp 2122260223 10.20.30.40 20000 typ host\r\n")

SCENARIOS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "dtls_answer_passive": ("browser offer, answered with DTLS=passive", [
        offer(webrtc(), **TO_SIP), answer(PHONE_ANSWER, **TO_BROWSER, DTLS="passive"), QUERY,
        DELETE]),
    "dtls_answer_active_peer_passive": ("browser offers a=setup:passive: rtpgate is active", [
        offer(webrtc(setup="passive"), **TO_SIP), answer(PHONE_ANSWER, **TO_BROWSER), QUERY,
        DELETE]),
    "dtls_offer_active": ("plain offer to DTLS with DTLS=active, answered with setup:passive", [
        offer(**TO_BROWSER, DTLS="active"),
        answer(webrtc(setup="passive", opus=False), **TO_SIP), QUERY, DELETE]),
    "dtls_offer_passive": ("plain offer to DTLS with DTLS=passive", [
        offer(**TO_BROWSER, DTLS="passive"),
        answer(webrtc(setup="active", opus=False), **TO_SIP), DELETE]),
    "dtls_offer_actpass_answer_active": ("plain offer to DTLS (actpass), the browser answers "
                                         "active", [
        offer(**TO_BROWSER), answer(webrtc(setup="active", opus=False), **TO_SIP), QUERY, DELETE]),
    "dtls_fingerprint_hashes": ("DTLS-fingerprint= picks the hash of a=fingerprint", [
        offer(**TO_BROWSER, **{"DTLS-fingerprint": "sha-1"}),
        offer(**TO_BROWSER, **{"DTLS-fingerprint": "sha-224"}),
        offer(**TO_BROWSER, **{"DTLS-fingerprint": "sha-256"}),
        offer(**TO_BROWSER, **{"DTLS-fingerprint": "sha-384"}),
        offer(**TO_BROWSER, **{"DTLS-fingerprint": "sha-512"}), DELETE]),
    "dtls_fingerprint_peer_hash": ("the answer's fingerprint uses the offerer's hash", [
        offer(webrtc(fingerprint=f"sha-384 {FP_384}"), **TO_SIP),
        answer(PHONE_ANSWER, **TO_BROWSER), DELETE]),
    "dtls_off_answer": ("DTLS=off towards an offerer of DTLS", [
        offer(webrtc(), **TO_SIP), answer(PHONE_ANSWER, ICE="force", DTLS="off"), DELETE]),
    "ice_trickle_zero_address": ("trickle ICE with c=IN IP4 0.0.0.0 and no candidates yet", [
        offer(webrtc(candidates=False), **TO_SIP), answer(PHONE_ANSWER, **TO_BROWSER), QUERY,
        DELETE]),
    "strip_extmap": ("strip-extmap removes a=extmap towards the receiver", [
        offer(sdp(media="a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" + BASIC),
              flags=["strip-extmap"]),
        answer(bob(media="a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                   + BASIC)), DELETE]),
    **{f"ice_lite_{way}": (f"ICE-lite={way}: a=ice-lite where rtpgate is lite, never "
                           "controlling there", [
        offer(sdp(media=BASIC + ICE_A), ICE="force", **{"ICE-lite": way}),
        answer(bob(media=BASIC + ICE_B), ICE="force", **{"ICE-lite": way}), QUERY, DELETE])
       for way in ("forward", "backward", "both")},
    "ice_force_relay_passthrough": ("ICE=force-relay with ICE on both sides: pass-through (the "
                                    "party's address and ICE kept, its relay candidate dropped, "
                                    "rtpgate's ports as relay candidates, no a=rtcp)", [
        offer(sdp(media=BASIC + ICE_A_ALL), ICE="force-relay"),
        answer(bob(media=BASIC + ICE_B), ICE="force-relay"), QUERY, DELETE]),
    # no query/delete: 10.5 reports a "crypto suite" on the answerer's streams that it made
    # before it knew it would pass through (and never uses); rtpgate reports none
    "ice_force_relay_webrtc": ("ICE=force-relay between two browsers: their DTLS, rtcp-mux and "
                               "BUNDLE group kept", [
        offer(webrtc(), ICE="force-relay"),
        answer(webrtc(setup="active").replace("192.168.10.21 54321", "10.20.30.40 40000")
               .replace("Fq7b", "Zz9q"), ICE="force-relay")]),
    "ice_force_relay_plain_offerer": ("ICE=force-relay towards a party without ICE: rtpgate's "
                                      "own ICE with relay candidates", [
        offer(ICE="force-relay"), answer(), QUERY, DELETE]),
    "ice_optional_passthrough": ("ICE=optional with ICE on both sides: pass-through (rtpgate's "
                                 "c=/m=, the party's candidates all kept, rtpgate's host "
                                 "candidates just above the party's)", [
        offer(sdp(media=BASIC + ICE_A_ALL), ICE="optional"),
        answer(bob(media=BASIC + ICE_B), ICE="optional"), QUERY, DELETE]),
    "ice_optional": ("ICE=optional adds rtpgate as a candidate", [
        offer(ICE="optional"), answer(), DELETE]),
    "rtcp_mux_require": ("rtcp-mux require: one port towards the callee, mux in the offer", [
        offer(**{"rtcp-mux": ["require"]}),
        answer(bob(media="a=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\na=sendrecv\r\n", codecs="0")),
        QUERY, DELETE]),
    "rtcp_mux_reject": ("offer with rtcp-mux, rtcp-mux reject: the callee gets no mux, nor the "
                        "caller", [
        offer(sdp(media=BASIC + "a=rtcp-mux\r\n"), **{"rtcp-mux": ["reject"]}),
        answer(), QUERY, DELETE]),
    "rtcp_mux_accept": ("offered rtcp-mux passed on with rtcp-mux accept", [
        offer(sdp(media=BASIC + "a=rtcp-mux\r\n"), **{"rtcp-mux": ["accept"]}),
        answer(), QUERY, DELETE]),
    "ice_trickle_mid": ("ICE force with trickle-ICE and generate-mid", [
        offer(ICE="force", flags=["trickle-ICE", "generate-mid"]),
        answer(), QUERY, DELETE]),
    "ice_remove_offer": ("ICE remove strips the caller's ICE attributes", [
        offer(sdp(media=BASIC + "a=ice-ufrag:Fq7b\r\na=ice-pwd:3xKpQ9m2LbVzR8tYwN5cJh1D\r\n"
                  "a=candidate:1 1 udp 2122260223 192.168.10.21 16384 typ host\r\n"
                  "a=end-of-candidates\r\n"), ICE="remove"),
        answer(), DELETE]),
    "ice_force_media_address": ("ICE force with a media-address: candidates carry it", [
        offer(ICE="force", **{"media-address": "203.0.113.9"}), DELETE]),
    "codec_except_mask": ("strip all except G722 and opus; mask, offer and strip by flag", [
        offer(sdp(codecs="0 8 9 96 101", media=FIVE),
              codec={"strip": ["all"], "except": ["G722", "opus"]}),
        offer(sdp(codecs="0 8 9 96 101", media=FIVE),
              flags=["codec-strip-PCMA", "codec-offer-PCMA", "codec-mask-G722"]),
        offer(sdp(codecs="0 8 9 96 101", media=FIVE),
              codec={"strip": ["pcma", "OPUS/48000", "telephone-event/8000/1"]}),
        offer(sdp(codecs="0 8 9 96 101", media=FIVE), codec={"strip": ["all"],
                                                              "offer": ["G729"]}),
        DELETE]),
    "codec_strip_answer": ("codec strip in an answer changes what the caller gets", [
        offer(), answer(codec={"strip": ["PCMU"]}), DELETE]),
    "static_payload_types": ("static payload types get their rtpmap from RFC 3551", [
        offer(sdp(codecs="0 3 4 5 9 13 18 31 34", media="a=rtpmap:0 pcmu/8000\r\n")),
        DELETE]),
    "reinvite_endpoint_flip": ("re-offers from a new port and back: the old ports come back", [
        offer(), answer(),
        offer(sdp(port=16500, version=3724394401)),
        offer(sdp(port=16384, version=3724394402)),
        answer(bob(port=20500)), QUERY, DELETE]),
    "reinvite_callee_no_to_tag": ("re-INVITE from the callee without a to-tag", [
        offer(), answer(),
        cmd("offer", from_tag="@tt", sdp=bob(codecs="8", media="a=rtpmap:8 PCMA/8000\r\n")),
        cmd("answer", from_tag="@tt", to_tag="@ft", sdp=sdp(codecs="8",
                                                            media="a=rtpmap:8 PCMA/8000\r\n")),
        QUERY, cmd("query", from_tag="@tt"), cmd("query", from_tag="@ft", to_tag="@tt"),
        cmd("query", from_tag="@nobody"), DELETE]),
    "attributes_kept_and_stripped": ("which attributes are copied, stripped and regenerated", [
        offer(sdp(session="a=extmap:2 urn:foo\r\na=tool:bar\r\na=group:BUNDLE 0\r\n"
                          "a=group:LS 0\r\na=sendrecv\r\na=ice-lite\r\n", codecs="0 8",
                  media="a=label:1\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
                        "a=rtpmap:0 PCMU/8000\r\na=x-foo:bar\r\na=rtcp-fb:* nack\r\n"
                        "a=rtpmap:8 PCMA/8000\r\na=rtcp-fb:0 nack\r\na=content:main\r\n"
                        "a=ptime:20\r\na=maxptime:40\r\na=ssrc:1234 cname:foo\r\n"
                        "a=mid:audio1\r\na=sendonly\r\na=recvonly\r\n"
                        "a=rtcp:9999 IN IP4 1.2.3.4\r\na=rtpengine:xyz\r\na=x-after\r\n")),
        QUERY, DELETE]),
    "replace_username_name": ("replace username and session-name keep the first SDP's values", [
        offer(replace=["username", "session-name"]),
        offer(sdp(user="mallory", version=3724394401).replace("s=-", "s=Other"),
              replace=["username", "session-name"]),
        DELETE]),
    "full_rtcp_media_address": ("full-rtcp-attribute with a media-address", [
        offer(flags=["full-rtcp-attribute"], **{"media-address": "198.51.100.7"}), DELETE]),
    "hold_inactive_recvonly": ("inactive and recvonly offers", [
        offer(sdp(media=BASIC.replace("a=sendrecv", "a=inactive"))), answer(), QUERY,
        offer(sdp(media=BASIC.replace("a=sendrecv", "a=recvonly"), version=3724394401)),
        answer(bob(media=BASIC.replace("a=sendrecv", "a=sendonly"))), QUERY, DELETE]),
    "audio_video_application": ("audio, video and a non-RTP section", [
        offer(sdp(extra="m=video 16390 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\na=sendrecv\r\n"
                        "m=application 16400 UDP/BFCP *\r\na=floorctrl:c-only\r\n")),
        answer(bob(extra="m=video 20010 RTP/AVP 97\r\na=rtpmap:97 H264/90000\r\n"
                         "m=application 0 UDP/BFCP *\r\n")),
        QUERY, DELETE]),
    "rejected_single_media": ("the only media rejected in the offer", [
        offer(sdp(port=0)), answer(bob(port=0)), QUERY, DELETE]),
    "ipv6_offer_ipv4_interface": ("an IPv6 offer towards an IPv4-only rtpengine", [
        offer(sdp().replace(f"IN IP4 {A_IP}", "IN IP6 2001:db8::21")), answer(), QUERY,
        DELETE]),
    "address_family_ip6_missing": ("address-family IP6 without an IPv6 interface", [
        offer(**{"address family": "IP6"}), DELETE]),
    "media_level_rtcp_address": ("a=rtcp with its own address", [
        offer(sdp(media=BASIC + "a=rtcp:17000 IN IP4 192.168.10.99\r\n")), QUERY, DELETE]),
    "line_endings": ("LF-only lines, a trailing blank line, no final newline", [
        offer(sdp().replace("\r\n", "\n")),
        cmd("offer", from_tag="@ft2", sdp=sdp() + "\r\n"),
        cmd("offer", from_tag="@ft3", sdp=sdp()[:-2]),
        DELETE]),
    # (no query while DTMF is blocked: rtpgate's query adds "blocked DTMF", 10.5's has none)
    "dtmf_security_inject": ("inject DTMF in the offer and answer: no SDP change, both medias "
                             "'transcoding'; block DTMF with tone, a trigger, off, unblock; "
                             "play DTMF before any media", [
        offer(flags=["inject DTMF"]), answer(flags=["inject DTMF"]), QUERY,
        cmd("block DTMF", **{"DTMF-security": "tone", "frequency": 1000, "volume": 6}),
        cmd("block DTMF", from_tag="@ft", trigger="*1", **{"DTMF-security-trigger": "drop",
                                                           "trigger-end": "#"}),
        cmd("unblock DTMF", all="all"), cmd("block DTMF", **{"DTMF-security": "off"}),
        cmd("unblock DTMF", all="all"), QUERY,
        cmd("play DTMF", from_tag="@ft", code="5"), DELETE]),
    "party_selection_errors": ("media-control party selection and its errors", [
        offer(label="caller"), answer(),
        cmd("block media", label="caller"), cmd("unblock media", label="caller"),
        cmd("block media", label="nobody"), cmd("block DTMF", from_tag="@nobody"),
        cmd("silence media", address="bad"), cmd("silence media", address="1.2.3.4"),
        cmd("silence media", address=B_IP), cmd("unsilence media", address=B_IP),
        cmd("start forwarding", from_tag="@nobody"),
        {"command": "block media", "call-id": "@nocall"},
        {"command": "start recording", "call-id": "@nocall"},
        {"command": "block media"}, DELETE]),
    # (no query: 10.5's has no "recording" key; a server without --recording-dir, so no
    # "recordings" key either)
    "record_call_values": ("record call yes/an invalid value/discard/no, the record-call and "
                           "discard-recording flags, recording and forwarding commands with "
                           "discard-recording and metadata: replies unchanged", [
        offer(**{"record call": "yes"}), answer(**{"record call": "maybe"}),
        answer(**{"record call": "discard"}), offer(flags=["record-call"]),
        answer(flags=["discard-recording"]), offer(**{"record call": "no"}),
        cmd("start recording"), cmd("stop recording", flags=["discard-recording"]),
        cmd("start forwarding", metadata="k=v"),
        cmd("start forwarding", from_tag="@tt", flags=["directional"]),
        cmd("stop forwarding", all="all"), cmd("delete", flags=["discard-recording"])]),
    "labels_and_via_branch": ("labels and via-branch are reported per tag", [
        offer(label="caller", **{"via-branch": "z9hG4bK-1"}), QUERY,
        answer(label="callee"), QUERY, DELETE]),
    "delete_variants": ("delete with fatal, by to-tag only, by via-branch", [
        cmd("delete", from_tag="@ft", flags=["fatal"]),
        offer(**{"via-branch": "z9hG4bK-2"}), answer(),
        cmd("delete", to_tag="@tt"), QUERY,
        offer(), cmd("delete", from_tag="@ft", **{"via-branch": "z9hG4bK-3"}),
        cmd("delete", flags=["fatal"])]),
    "original_sendrecv": ("original-sendrecv keeps the direction attributes as they are", [
        offer(sdp(media=BASIC.replace("a=sendrecv", "a=sendonly")), flags=["original-sendrecv"]),
        answer(bob(session="a=recvonly\r\n", media=BASIC.replace("a=sendrecv\r\n", "")),
               flags=["original-sendrecv"]),
        QUERY, DELETE]),
    "rtcp_mux_answerer_adds": ("the answer carries rtcp-mux that was not offered", [
        offer(), answer(bob(media=BASIC + "a=rtcp-mux\r\n")), QUERY, DELETE]),
    "list_limits": ("list with limits", [
        offer(), {"command": "list", "limit": 0}, {"command": "list", "limit": "0"},
        {"command": "list", "limit": -1}, {"command": "list", "limit": "-5"}, DELETE]),
    "flags_shared": ("asymmetric, unidirectional, strict-source, media-handover", [
        offer(flags=["asymmetric", "strict-source", "media-handover", "unidirectional"]),
        answer(flags=["symmetric"]), QUERY, DELETE]),
    "ptime_flags": ("ptime and ptime-reverse: rtpengine repacketises (reported as transcoding)", [
        offer(ptime=30, **{"ptime-reverse": 40}), QUERY, answer(), QUERY, DELETE]),
    "answer_without_ptime": ("an answer without a=ptime still gets the offer's ptime", [
        offer(), answer(bob(codecs="0", media="a=rtpmap:0 PCMU/8000\r\n")), DELETE]),
    "key_spellings": ("space and underscore spellings of keys that rtpengine 10.5 knows", [
        {"command": "offer", "call id": "@call", "from-tag": "@ft", "sdp": sdp(),
         "transport protocol": "RTP/AVPF", "replace": ["origin", "session-name"],
         "address family": "IP4", "media address": "192.0.2.1"},
        {"command": "answer", "call-id": "@call", "from-tag": "@ft", "to-tag": "@tt",
         "sdp": bob()},
        {"command": "query", "call-id": "@call", "from-tag": "@ft", "to-tag": "@tt"},
        {"command": "delete", "call-id": "@call", "from-tag": "@ft", "delete_delay": "0"}]),
    "transcode_pcma_to_opus": ("PCMA-only caller, opus added; callee answers opus: the caller "
                               "keeps PCMA, both sides transcoding", [
        offer(sdp(codecs="8", media=PCMA_ONLY), codec={"transcode": ["opus"]}), QUERY,
        answer(bob(codecs="96", media=OPUS_ONLY)), QUERY, DELETE]),
    "transcode_opus_caller": ("opus-only caller, PCMA added; callee answers PCMA", [
        offer(sdp(codecs="96", media=OPUS_ONLY), codec={"transcode": ["PCMA"]}),
        answer(bob(codecs="8", media=PCMA_ONLY)), QUERY, DELETE]),
    "transcode_names_as_spelt": ("a transcoding codec is offered as the flag spells it "
                                 "(pcma), the answer to the offerer names a codec as the "
                                 "answerer spells it (PCMU for the offerer's pcmu)", [
        offer(sdp(codecs="0", media="a=rtpmap:0 pcmu/8000\r\na=sendrecv\r\n"),
              codec={"transcode": ["pcma"]}),
        answer(bob(codecs="0", media=PCMU_SENDRECV)), DELETE]),
    "transcode_mask": ("codec-mask PCMA with transcode opus: the callee sees opus only", [
        offer(sdp(codecs="8", media=PCMA_ONLY), codec={"mask": ["PCMA"], "transcode": ["opus"]}),
        answer(bob(codecs="96", media=OPUS_ONLY)), DELETE]),
    "transcode_consume": ("codec-consume PCMA: stripped from the offer, the caller's target", [
        offer(sdp(codecs="0 8", media="a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"),
              codec={"consume": ["PCMA"], "transcode": ["G722"]}),
        answer(bob(codecs="9", media=G722_ONLY)), DELETE]),
    "transcode_strip_target": ("a stripped codec is not the transcoding target", [
        offer(codec={"strip": ["PCMU"], "transcode": ["G722"]}),
        answer(bob(codecs="9", media=G722_ONLY)), DELETE]),
    "transcode_g722_answers": ("G722 added; answers G722, G722+TE, PCMA+TE, G722+PCMA", [
        offer(codec={"transcode": ["G722"]}), answer(bob(codecs="9", media=G722_ONLY)),
        offer(sdp(version=3724394401), codec={"transcode": ["G722"]}),
        answer(bob(codecs="9 101", media=G722_ONLY + TE_8000)),
        offer(sdp(version=3724394402), codec={"transcode": ["G722"]}),
        answer(bob(codecs="8 101", media="a=rtpmap:8 PCMA/8000\r\n" + TE_8000)),
        offer(sdp(version=3724394403), codec={"transcode": ["G722"]}),
        answer(bob(codecs="9 8", media=G722_ONLY + "a=rtpmap:8 PCMA/8000\r\n")),
        QUERY, DELETE]),
    "transcode_always": ("always transcode: the caller gets its first codec", [
        offer(flags=["always transcode"]), answer(bob(codecs="8", media=PCMA_ONLY)), DELETE]),
    "transcode_single_codec": ("single codec in the answer, with and without transcoding", [
        offer(sdp(codecs="0 8 9 101", media=FIVE)),
        answer(bob(codecs="8 0 101", media=BASIC), flags=["single codec"]),
        offer(sdp(version=3724394401), codec={"transcode": ["G722"]}),
        answer(bob(codecs="9 8 101", media=G722_ONLY + "a=rtpmap:8 PCMA/8000\r\n" + TE_8000),
               flags=["single codec", "reorder codecs"]),
        DELETE]),
    "transcode_forms": ("codec names with clock, channels and an fmtp field; unknown ones and "
                        "codec-set/accept/ignore change nothing", [
        offer(sdp(codecs="8", media=PCMA_ONLY),
              flags=["codec-transcode-opus/48000/2///complexity--5", "transcode-PCMU"]),
        offer(sdp(codecs="8", media=PCMA_ONLY, version=3724394401),
              codec={"transcode": ["FOO", "opus/48000/2//useinbandfec=1", "G722/8000/1"],
                     "set": ["opus/48000/2/32000"], "ignore": ["PCMU"]}),
        offer(sdp(version=3724394402), codec={"transcode": ["G722"]}),
        answer(bob(codecs="9 0", media=G722_ONLY + "a=rtpmap:0 PCMU/8000\r\n"),
               codec={"accept": ["G722"]}),
        DELETE]),
    "transcode_unsupported_dropped": ("an unknown codec is left out; the answer does not gain "
                                      "the callee's telephone-event and CN", [
        offer(sdp(codecs="8", media=PCMA_ONLY), codec={"transcode": ["FOO"]}),
        answer(bob(codecs="8 101", media="a=rtpmap:8 PCMA/8000\r\n" + TE_8000 +
                   "a=rtpmap:13 CN/8000\r\n")), DELETE]),
    "ptime_transcode": ("ptime 30 with a transcoded codec, and 20 -> 30 on a shared one", [
        offer(sdp(codecs="8", media=PCMA_ONLY), ptime=30, codec={"transcode": ["PCMU"]}),
        answer(bob(codecs="0", media="a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n")), QUERY,
        cmd("offer", from_tag="@ft2", sdp=sdp(codecs="8", media=PCMA_ONLY + "a=ptime:20\r\n"),
            ptime=30),
        cmd("answer", from_tag="@ft2", to_tag="@tt2", sdp=bob(codecs="8", media=PCMA_ONLY)),
        DELETE]),
    "transcode_dtmf": ("telephone-event added by codec-transcode: the callee answers it, the "
                       "caller (without) does not get it; DTMF is converted", [
        offer(sdp(codecs="8", media=PCMA_ONLY), codec={"transcode": ["telephone-event"]}),
        answer(bob(codecs="8 96", media="a=rtpmap:8 PCMA/8000\r\n"
                   "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n")), QUERY,
        offer(sdp(codecs="8 101", media="a=rtpmap:8 PCMA/8000\r\n" + TE_8000,
                  version=3724394401), flags=["always transcode"]),
        answer(bob(codecs="8", media=PCMA_ONLY)), QUERY, DELETE]),
    "transcode_opus_te48000": ("PCMU+TE/8000 caller, opus added: telephone-event/48000 added "
                               "beside it; the callee answers opus with and without it", [
        offer(sdp(codecs="0 101", media=PCMU_SENDRECV + TE_8000), codec={"transcode": ["opus"]}),
        answer(bob(codecs="96 97", media="a=rtpmap:96 opus/48000/2\r\n"
                   "a=rtpmap:97 telephone-event/48000\r\na=fmtp:97 0-16\r\n")), QUERY,
        offer(sdp(codecs="0 101", media=PCMU_SENDRECV + TE_8000, version=3724394401),
              codec={"transcode": ["opus"]}),
        answer(bob(codecs="96", media=OPUS_ONLY)), QUERY, DELETE]),
    "transcode_opus_te48000_mask": ("codec-mask of the originals: opus and telephone-event/48000 "
                                    "only towards the callee", [
        offer(sdp(codecs="0 101", media=PCMU_SENDRECV + TE_8000),
              codec={"mask": ["PCMU"], "transcode": ["opus"]}),
        answer(bob(codecs="96 97", media="a=rtpmap:96 opus/48000/2\r\n"
                   "a=rtpmap:97 telephone-event/48000\r\na=fmtp:97 0-16\r\n")), QUERY,
        DELETE]),
    "transcode_opus_te48000_answer_without": ("the callee answers opus only: the caller keeps "
                                              "its telephone-event/8000", [
        offer(sdp(codecs="0 101", media=PCMU_SENDRECV + TE_8000),
              codec={"mask": ["PCMU"], "transcode": ["opus"]}),
        answer(bob(codecs="96", media=OPUS_ONLY)), QUERY, DELETE]),
    "transcode_g722_te_mask": ("G722 added to PCMU+TE/8000 with PCMU masked (G722's RTP clock "
                               "is 8000: no other telephone-event)", [
        offer(sdp(codecs="0 101", media=PCMU_SENDRECV + TE_8000),
              codec={"mask": ["PCMU"], "transcode": ["G722"]}),
        answer(bob(codecs="9 101", media=G722_ONLY + TE_8000)), DELETE]),
    "t38_reinvite_passthrough": ("a re-INVITE to T.38 (m=image udptl) and back to audio: passed "
                                 "through on the same ports, no gateway", [
        offer(), answer(),
        offer(sdp(version=3724394401, codecs="t38", mtype="image", proto="udptl", media=T38)),
        answer(bob(codecs="t38", mtype="image", proto="udptl", media=T38)), QUERY,
        offer(sdp(version=3724394402)), answer(), QUERY, DELETE]),
    "offer_errors": ("error replies of offer and answer", [
        {"command": "offer", "call-id": "@call", "from-tag": "@ft",
         "sdp": "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n"},
        {"command": "offer", "call-id": "@call", "from-tag": "@ft",
         "sdp": sdp().replace("c=IN IP4 192.168.10.21", "c=IN IP4 foo")},
        {"command": "offer", "call-id": "@call", "from-tag": "@ft",
         "sdp": sdp(codecs="0 128")},
        {"command": "answer", "call-id": "@call", "from-tag": "@ft", "sdp": bob()},
        {"command": "offer", "from-tag": "@ft", "sdp": sdp()},
        {"command": "query"}, {"command": "query", "call-id": "@nocall"}]),
    "cn_transcode": ("codec-transcode CN: CN/8000 added; answered with and without CN", [
        offer(sdp(codecs="8", media=PCMA_ONLY), codec={"transcode": ["CN"]}),
        answer(bob(codecs="8 13", media="a=rtpmap:8 PCMA/8000\r\n" + CN_8000)), QUERY,
        offer(sdp(codecs="8", media=PCMA_ONLY, version=3724394401),
              codec={"transcode": ["CN"]}),
        answer(bob(codecs="8", media=PCMA_ONLY)), DELETE]),
    "cn_consume": ("codec-consume CN: CN stripped from the offer, the caller keeps it", [
        offer(sdp(codecs="8 13", media="a=rtpmap:8 PCMA/8000\r\n" + CN_8000),
              codec={"consume": ["CN"]}),
        answer(bob(codecs="8", media=PCMA_ONLY)), QUERY, DELETE]),
    "cn_with_transcoded_codec": ("an opus caller, PCMA and CN added: CN/48000 and CN/8000", [
        offer(sdp(codecs="96", media=OPUS_ONLY), codec={"transcode": ["PCMA", "CN"]}),
        answer(bob(codecs="8 13", media="a=rtpmap:8 PCMA/8000\r\n" + CN_8000)), QUERY,
        DELETE]),
    "cn_always_transcode_accept": ("CN kept towards the caller with always transcode and with "
                                   "codec-accept CN, though the callee has none", [
        offer(sdp(codecs="0 8 13", media=PCMU_PCMA + CN_8000), flags=["always transcode"]),
        answer(bob(codecs="0", media="a=rtpmap:0 PCMU/8000\r\n")),
        offer(sdp(codecs="0 8 13", media=PCMU_PCMA + CN_8000, version=3724394401),
              codec={"accept": ["CN"]}),
        answer(bob(codecs="0", media="a=rtpmap:0 PCMU/8000\r\n")), QUERY, DELETE]),
    "codec_accept": ("codec-accept PCMA: the caller is answered PCMA whatever the callee took",
                     [
        offer(sdp(codecs="0 8", media=PCMU_PCMA), codec={"accept": ["PCMA"]}),
        answer(bob(codecs="0", media="a=rtpmap:0 PCMU/8000\r\n")), QUERY,
        offer(sdp(codecs="0 8", media=PCMU_PCMA, version=3724394401),
              codec={"accept": ["PCMA"], "transcode": ["G722"]}),
        answer(bob(codecs="9", media=G722_ONLY)), DELETE]),
    "codec_set": ("codec-set sets a transcoded codec's bitrate: the SDP does not change", [
        offer(sdp(codecs="96", media=OPUS_ONLY),
              codec={"transcode": ["PCMA"], "set": ["opus/48000/2/32000"]}),
        answer(bob(codecs="8", media=PCMA_ONLY)), QUERY,
        offer(sdp(codecs="96 8", media=OPUS_ONLY + "a=rtpmap:8 PCMA/8000\r\n",
                  version=3724394401),
              flags=["codec-set-opus/48000/1/16000", "codec-set-PCMA/16000"]),
        DELETE]),
    "transcode_decode_only_stripped": ("iLBC and AMR-WB (decode only) pass untouched without "
                                       "transcoding, and are stripped from a transcoding offer",
                                       [
        offer(sdp(codecs="96 97 8", media=DECODE_ONLY + PCMA_ONLY)),
        offer(sdp(codecs="96 97 8", media=DECODE_ONLY + PCMA_ONLY, version=3724394401),
              codec={"transcode": ["G722"]}),
        answer(bob(codecs="9", media=G722_ONLY)), DELETE]),
    "transcode_strips_unsupported": ("an unknown codec goes once rtpgate transcodes (a codec "
                                     "added, or consume), stays when nothing is added", [
        offer(sdp(codecs="0 96 97 101 13 98", media=MIXED), codec={"transcode": ["G722"]}),
        offer(sdp(codecs="0 96 97 101 13 98", media=MIXED, version=3724394401),
              codec={"transcode": ["PCMU"]}),
        offer(sdp(codecs="0 96 97 101 13 98", media=MIXED, version=3724394402),
              codec={"consume": ["CN"]}),
        answer(bob(codecs="0 101", media="a=rtpmap:0 PCMU/8000\r\n" + TE_8000)), DELETE]),
    "transcode_video_untouched": ("codec-transcode and codec-consume leave a video section "
                                  "as it is", [
        offer(sdp(codecs="0", media=PCMU_SENDRECV, extra=VIDEO),
              codec={"transcode": ["G722"]}),
        answer(bob(codecs="9", media=G722_ONLY, extra=VIDEO.replace("96 97", "97"))),
        offer(sdp(codecs="0", media=PCMU_SENDRECV, extra=VIDEO, version=3724394401),
              codec={"consume": ["CN"], "transcode": ["VP8"]}),
        DELETE]),
    "ptime_shorter": ("ptime 20 towards a 30 ms callee, ptime-reverse 10", [
        offer(sdp(codecs="8", media=PCMA_ONLY + "a=ptime:30\r\n"), ptime=20,
              **{"ptime-reverse": 10}),
        answer(bob(codecs="8", media=PCMA_ONLY + "a=ptime:30\r\n")), QUERY, DELETE]),
}

# -- SDES-SRTP ---------------------------------------------------------------------------------

#: rtpengine's suites with their master key + salt lengths.
SUITES = {"AEAD_AES_256_GCM": 44, "AEAD_AES_128_GCM": 28, "AES_256_CM_HMAC_SHA1_80": 46,
          "AES_256_CM_HMAC_SHA1_32": 46, "AES_192_CM_HMAC_SHA1_80": 38,
          "AES_192_CM_HMAC_SHA1_32": 38, "AES_CM_128_HMAC_SHA1_80": 30,
          "AES_CM_128_HMAC_SHA1_32": 30, "F8_128_HMAC_SHA1_80": 30, "F8_128_HMAC_SHA1_32": 30,
          "NULL_HMAC_SHA1_80": 30, "NULL_HMAC_SHA1_32": 30}


def key(suite: str, seed: int) -> str:
    """A fixed inline key of the right length for ``suite`` (unpadded base64, as rtpengine)."""
    raw = bytes((seed * 7 + i * 13) & 0xFF for i in range(SUITES[suite]))
    return base64.b64encode(raw).decode().rstrip("=")


def crypto(tag: int, suite: str, seed: int, extra: str = "") -> str:
    return f"a=crypto:{tag} {suite} inline:{key(suite, seed)}{extra}\r\n"


def savp(lines: str, proto: str = "RTP/SAVP") -> str:
    return sdp(media=BASIC + lines, proto=proto)


def savp_bob(lines: str, proto: str = "RTP/SAVP") -> str:
    return bob(media=BASIC + lines, proto=proto)


for _n, _suite in enumerate(SUITES):
    SCENARIOS[f"srtp_suite_{_suite.lower()}"] = (
        f"{_suite} offered on RTP/SAVP (the other suites added) and answered (passed through)", [
            offer(savp(crypto(1, _suite, _n))),
            answer(savp_bob(crypto(1, _suite, _n + 50))), QUERY, DELETE])

SCENARIOS.update({
    "srtp_avp_to_savp_answer_each": ("RTP/AVP to RTP/SAVP: every suite offered, the answerer "
                                     "picks AES_256_CM_HMAC_SHA1_32 (tag 4)", [
        offer(**{"transport-protocol": "RTP/SAVP"}),
        answer(savp_bob(crypto(4, "AES_256_CM_HMAC_SHA1_32", 3))), QUERY, DELETE]),
    "srtp_sdes_no": ("SDES-no- as flags and in the SDES list", [
        offer(flags=["SDES-no-AEAD_AES_256_GCM", "SDES-no-F8_128_HMAC_SHA1_80"],
              SDES=["no-NULL_HMAC_SHA1_32"], **{"transport-protocol": "RTP/SAVP"}),
        answer(savp_bob(crypto(1, "AEAD_AES_128_GCM", 4))), QUERY, DELETE]),
    "srtp_sdes_off": ("SDES-off towards RTP/SAVP: DTLS only", [
        offer(SDES=["off"], **{"transport-protocol": "RTP/SAVP"}), DELETE]),
    "srtp_dtls_off": ("DTLS=off towards RTP/SAVP: SDES only", [
        offer(DTLS="off", **{"transport-protocol": "RTP/SAVP"}),
        answer(savp_bob(crypto(7, "AES_CM_128_HMAC_SHA1_80", 11))), QUERY, DELETE]),
    "srtp_sdes_pad_lifetime": ("SDES-pad and SDES-lifetime in the generated lines", [
        offer(flags=["SDES-pad", "SDES-lifetime"], **{"transport-protocol": "RTP/SAVP"}),
        DELETE]),
    "srtp_mki_lifetime_params": ("MKI, lifetime and session parameters of an offer", [
        offer(savp(crypto(1, "AES_CM_128_HMAC_SHA1_80", 18, "|2^20|1:4 UNENCRYPTED_SRTCP")
                   + crypto(2, "AES_CM_128_HMAC_SHA1_32", 19, "|7:2")),
              **{"transport-protocol": "RTP/AVP"}),
        answer(), QUERY, DELETE]),
    "srtp_session_param_flags": ("SDES-unencrypted_srtp, -unencrypted_srtcp, "
                                 "-unauthenticated_srtp on generated lines", [
        offer(flags=["SDES-unencrypted_srtp", "SDES-unencrypted_srtcp",
                     "SDES-unauthenticated_srtp"], **{"transport-protocol": "RTP/SAVP"}),
        answer(savp_bob(crypto(7, "AES_CM_128_HMAC_SHA1_80", 20,
                               " UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP"))),
        QUERY, DELETE]),
    "srtp_savpf_to_avpf": ("RTP/SAVPF offer to RTP/AVPF and back", [
        offer(savp(crypto(1, "AES_CM_128_HMAC_SHA1_80", 21), proto="RTP/SAVPF"),
              **{"transport-protocol": "RTP/AVPF"}),
        answer(bob(proto="RTP/AVPF")), QUERY, DELETE]),
    "srtp_avp_to_savpf": ("RTP/AVP to RTP/SAVPF", [
        offer(DTLS="off", **{"transport-protocol": "RTP/SAVPF"}),
        answer(savp_bob(crypto(7, "AES_CM_128_HMAC_SHA1_80", 22), proto="RTP/SAVPF")),
        QUERY, DELETE]),
    "srtp_savp_to_udptls": ("RTP/SAVP to UDP/TLS/RTP/SAVPF: SDES and DTLS offered", [
        offer(savp(crypto(1, "AES_CM_128_HMAC_SHA1_80", 23)),
              **{"transport-protocol": "UDP/TLS/RTP/SAVPF"}), DELETE]),
    "srtp_osrtp_offer": ("OSRTP=offer: RTP/AVP with a=crypto, answered plain", [
        offer(OSRTP=["offer"]),
        answer(), QUERY, DELETE]),
    "srtp_osrtp_offer_accepted": ("OSRTP=offer answered with a=crypto on RTP/AVP", [
        offer(OSRTP=["offer"], DTLS="off"),
        answer(bob(media=BASIC + crypto(7, "AES_CM_128_HMAC_SHA1_80", 24))), QUERY, DELETE]),
    "srtp_osrtp_incoming": ("an OSRTP offer (a=crypto on RTP/AVP) answered plain: plain answer", [
        offer(sdp(media=BASIC + crypto(1, "AES_CM_128_HMAC_SHA1_80", 25))),
        answer(), QUERY, DELETE]),
    "srtp_osrtp_accept": ("an OSRTP offer answered plain with OSRTP=accept: SRTP answer", [
        offer(sdp(media=BASIC + crypto(1, "AES_CM_128_HMAC_SHA1_80", 26)),
              **{"transport-protocol": "RTP/AVP"}),
        answer(OSRTP=["accept"]), QUERY, DELETE]),
    "srtp_osrtp_answer_unoffered": ("a=crypto on RTP/AVP in an answer to a plain offer is "
                                    "ignored: the answerer keeps the offered protocol", [
        offer(), answer(bob(media=BASIC + crypto(1, "AES_CM_128_HMAC_SHA1_80", 31))),
        QUERY, DELETE]),
    "srtp_reinvite": ("SDES re-INVITE from the caller keeps the negotiated keys", [
        offer(savp(crypto(1, "AES_CM_128_HMAC_SHA1_80", 27))),
        answer(savp_bob(crypto(1, "AES_CM_128_HMAC_SHA1_80", 28))),
        offer(savp(crypto(1, "AES_CM_128_HMAC_SHA1_80", 27))),
        answer(savp_bob(crypto(1, "AES_CM_128_HMAC_SHA1_80", 28))), QUERY, DELETE]),
    "srtp_unknown_suite_ignored": ("an unknown suite beside a known one is ignored", [
        offer(savp("a=crypto:1 FOO_128_HMAC_MD5 inline:" + key("AES_CM_128_HMAC_SHA1_80", 29)
                   + "\r\n" + crypto(2, "AES_CM_128_HMAC_SHA1_80", 30)),
              **{"transport-protocol": "RTP/AVP"}),
        answer(), DELETE]),
})


#: An MSRP section (``m=message ... TCP/MSRP``): not relayed, passed on as written.
MSRP = ("m=message 2855 TCP/MSRP *\r\nc=IN IP4 192.168.10.21\r\na=setup:active\r\n"
        "a=accept-types:message/cpim\r\na=path:msrp://192.168.10.21:2855/kjh2;tcp\r\n")

SCENARIOS.update({
    "replace_session_connection": ("replace session-connection: the session c= is rewritten "
                                   "although every media section has its own", [
        offer(sdp(session="", media=BASIC).replace(
            "m=audio 16384 RTP/AVP 0 8 101\r\n",
            "m=audio 16384 RTP/AVP 0 8 101\r\nc=IN IP4 192.168.10.21\r\n"),
            replace=["origin", "session-connection"]),
        offer(sdp(version=3724394401, media=BASIC).replace(
            "m=audio 16384 RTP/AVP 0 8 101\r\n",
            "m=audio 16384 RTP/AVP 0 8 101\r\nc=IN IP4 192.168.10.21\r\n")),
        DELETE]),
    "msrp_message_passthrough": ("an m=message TCP/MSRP section is passed on untouched (port, "
                                 "c=, a=setup), beside a relayed audio section (the answer "
                                 "has no a=setup: 10.5 reports a DTLS role for it)", [
        offer(sdp(extra=MSRP), ICE="remove"),
        answer(bob(extra=MSRP.replace("192.168.10.21", B_IP).replace(
            "a=setup:active\r\n", ""))),
        DELETE]),
    "forked_offer_branches": ("a forked offer (one via-branch per branch, no to-tag): each "
                              "branch a party of its own; deleting one branch leaves the "
                              "other, which its answer (found by via-branch) completes", [
        offer(**{"via-branch": "z9hG4bK-f.0"}),
        offer(sdp(version=3724394401), **{"via-branch": "z9hG4bK-f.1"}),
        cmd("delete", from_tag="@ft", **{"via-branch": "z9hG4bK-f.1", "delete-delay": 0}),
        answer(**{"via-branch": "z9hG4bK-f.0"}),
        cmd("delete", to_tag="@tt")]),  # (10.5 goes on listing a deleted branch in stats)
    "forked_answer_second_branch": ("a forked offer answered on its second branch: the "
                                    "answer reaches the caller from that branch's ports", [
        offer(**{"via-branch": "z9hG4bK-g.0"}),
        offer(**{"via-branch": "z9hG4bK-g.1"}),
        answer(**{"via-branch": "z9hG4bK-g.1"}), QUERY, DELETE]),
    "ice_optional_answer_plain": ("ICE=optional on a plain answer to a plain offer: no ICE "
                                  "towards the offerer (rtpgate never did ICE with it)", [
        offer(ICE="remove"), answer(ICE="optional"), QUERY, DELETE]),
    "ice_optional_passthrough_answer_plain": ("ICE=optional: an ICE offer passed through, "
                                              "answered without ICE: no candidates of "
                                              "rtpgate's towards the offerer", [
        offer(sdp(media=BASIC + ICE_A), ICE="optional"), answer(ICE="optional"), DELETE]),
    "trickle_ice_rtcp_port_9": ("a trickle-ICE offer (c=0.0.0.0, port 9, a=rtcp:9): the "
                                "same RTCP port is no rtcp-mux there", [
        offer(sdp(ip="0.0.0.0", port=9, codecs="8",
                  media="a=ice-ufrag:Ci7n\r\na=ice-pwd:l9QndxLG6OycZRcQe9zcT95c\r\n"
                        "a=ice-options:trickle\r\na=rtcp:9 IN IP4 0.0.0.0\r\n")),
        DELETE]),
    "dtls_reverse_in_offer": ("DTLS-reverse=passive given with a browser's actpass offer: "
                              "rtpgate answers the browser passive", [
        offer(webrtc(), **TO_SIP, **{"DTLS-reverse": "passive"}),
        answer(PHONE_ANSWER, ICE="remove"), DELETE]),
    "rejected_sections_as_written": ("a rejected section keeps its a=mid; a non-RTP format "
                                     "list is copied with its spacing (m=application 0 * )", [
        offer(sdp(media="a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\na=mid:0\r\n", codecs="0",
                  extra="m=audio 0 RTP/AVP 0\r\na=sendrecv\r\na=mid:1\r\n"
                        "m=application 0 RTP/AVP 124\r\nm=application 0 * \r\n")),
        DELETE]),
})


#: Scenarios for a dual-stack interface (rtpengine with ``interface = 127.0.0.1;::1``, rtpgate
#: with ``-i 127.0.0.1 -i ::1``): written to ``cases_dual/`` with ``--dual``.
DUAL_SCENARIOS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "dual_ice_force": ("ICE=force on an interface with an IPv4 and an IPv6 address: a candidate "
                       "for each, the IPv6 answerer gets IPv4 towards the IPv4 offerer", [
        offer(ICE="force"),
        answer(bob().replace("IN IP4 10.20.30.40", "IN IP6 2001:db8::5")), QUERY, DELETE]),
    "dual_address_family_ip6": ("address family IP6 on a dual-stack interface", [
        offer(ICE="force", **{"address family": "IP6"}), answer(), QUERY, DELETE]),
    "dual_webrtc_answer": ("a browser's offer answered with ICE=force on a dual-stack "
                           "interface", [
        offer(webrtc(), **TO_SIP), answer(PHONE_ANSWER, **TO_BROWSER), DELETE]),
}


def published(codecs: str = "0 8 9", port: int = 6042) -> str:
    """A publisher's sendonly SDP (no session-level c=, as rtpengine's pub/sub tests)."""
    return (f"v=0\r\no=- 1545997027 1 IN IP4 {A_IP}\r\ns=tester\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {codecs}\r\nc=IN IP4 {A_IP}\r\na=sendonly\r\n")


def receiving(codecs: str = "0", port: int = 7000, medias: int = 1) -> str:
    """A subscriber's recvonly answer with ``medias`` audio sections."""
    body = "".join(f"m=audio {port + 2 * i} RTP/AVP {codecs}\r\nc=IN IP4 {B_IP}\r\n"
                   "a=recvonly\r\n" for i in range(medias))
    return f"v=0\r\no=- 1 1 IN IP4 {B_IP}\r\ns=sub\r\nt=0 0\r\n{body}"


def publish(sdp_text: str | None = None, /, **keys: Any) -> dict[str, Any]:
    return {"command": "publish", "call-id": "@call", "from-tag": "@pub",
            "sdp": sdp_text or published(), **keys}


def subscribe(**keys: Any) -> dict[str, Any]:
    return cmd("subscribe request", to_tag="@sub", **keys)


def sub_answer(sdp_text: str | None = None, /, **keys: Any) -> dict[str, Any]:
    return cmd("subscribe answer", to_tag="@sub", sdp=sdp_text or receiving(), **keys)


ONE_TO_ONE = "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"

#: Publish/subscribe (``cases_pubsub/``): rtpengine makes some SDPs itself (``o=`` with its
#: session id, ``s=`` its software id), which the pub/sub conformance test normalises; to-tags
#: are given, so none is generated.
PUBSUB_SCENARIOS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "pubsub_publish_subscribe": (
        "publish answered recvonly with one codec; subscribe request mirrors the publisher's "
        "SDP sendonly; subscribe answer; query shows the pub/sub links; unsubscribe",
        [publish(), subscribe(from_tag="@pub"), sub_answer(), QUERY,
         cmd("unsubscribe", to_tag="@sub")]),
    "pubsub_publish_codec_accept": (
        "publish with codec accept: the accepted codec is the one answered and subscribed to",
        [publish(codec={"accept": ["PCMA"]}), subscribe(from_tag="@pub"),
         sub_answer(receiving("8"))]),
    "pubsub_publish_unknown_codec_first": (
        "publish whose first codec is unknown: the first known one is answered",
        [publish(published("96 8 9") + "a=rtpmap:96 foobar/8000\r\n"),
         subscribe(from_tag="@pub"), sub_answer(receiving("8"))]),
    "pubsub_subscribe_offer_answer_party": (
        "a subscription to one offer/answer party: its offer SDP, sendonly, own ports",
        [offer(sdp(codecs="0", media=ONE_TO_ONE)), answer(bob(codecs="0", media=ONE_TO_ONE)),
         subscribe(from_tag="@ft"), sub_answer(), cmd("query", from_tag="@sub")]),
    "pubsub_subscribe_by_label": (
        "the source picked by its label",
        [offer(sdp(codecs="0", media=ONE_TO_ONE), label="caller"),
         answer(bob(codecs="0", media=ONE_TO_ONE)), subscribe(label="caller"), sub_answer()]),
    "pubsub_subscribe_several_sources": (
        "from-tags lists both parties: one media per source media, an SDP rtpengine makes",
        [offer(sdp(codecs="0", media=ONE_TO_ONE)), answer(bob(codecs="0", media=ONE_TO_ONE)),
         subscribe(from_tags=["@ft", "@tt"]), sub_answer(receiving(medias=2)), QUERY]),
    "pubsub_subscribe_siprec_all": (
        "flags all and SIPREC: every offer/answer party, a=label per media, tag-medias and "
        "media-labels",
        [offer(sdp(codecs="0", media=ONE_TO_ONE), label="caller"),
         answer(bob(codecs="0", media=ONE_TO_ONE), label="called"),
         subscribe(flags=["all", "SIPREC"]), sub_answer(receiving(medias=2))]),
    "pubsub_subscribe_webrtc": (
        "a WebRTC subscriber (ICE=force, UDP/TLS/RTP/SAVPF, rtcp-mux offered): the offer has "
        "SDES keys, a=setup:actpass, the fingerprint, ICE credentials and candidates; the "
        "browser's answer takes DTLS (setup active)",
        [publish(), subscribe(from_tag="@pub", ICE="force",
                              **{"transport-protocol": "UDP/TLS/RTP/SAVPF",
                                 "rtcp-mux": ["offer"]}),
         sub_answer(webrtc(setup="active", opus=False).replace("a=sendrecv", "a=recvonly"))]),
    "pubsub_subscribe_webrtc_trickle": (
        "a WebRTC subscriber with rtcp-mux required, SDES off and trickle ICE: no a=crypto, "
        "a=rtcp names the RTP port, one candidate, ice-options:trickle and end-of-candidates",
        [publish(), subscribe(from_tag="@pub", ICE="force", SDES=["off"], flags=["trickle ICE"],
                              **{"transport-protocol": "UDP/TLS/RTP/SAVPF",
                                 "rtcp-mux": ["require"]}),
         sub_answer(webrtc(setup="active", opus=False).replace("a=sendrecv", "a=recvonly"))]),
    "pubsub_subscribe_sdes": (
        "an SRTP subscriber (RTP/SAVP): SDES keys and DTLS offered; its answer takes SDES",
        [publish(), subscribe(from_tag="@pub", **{"transport-protocol": "RTP/SAVP"}),
         sub_answer(savp_bob(crypto(7, "AES_CM_128_HMAC_SHA1_80", 3))
                    .replace("a=sendrecv", "a=recvonly"))]),
    "pubsub_publish_webrtc": (
        "a WebRTC publisher (ICE, DTLS actpass, rtcp-mux, trickle): answered DTLS active with "
        "ICE, one candidate, end-of-candidates; a plain subscription to it",
        [publish(webrtc(opus=False).replace("a=sendrecv", "a=sendonly")),
         subscribe(from_tag="@pub"), sub_answer()]),
    "pubsub_publish_sdes": (
        "an SDES publisher: answered with its first suite and a key of rtpengine's (and its "
        "a=ptime); a plain subscription to it",
        [publish(savp(crypto(1, "AES_CM_128_HMAC_SHA1_80", 3)
                      + crypto(2, "AES_CM_128_HMAC_SHA1_32", 4)).replace("a=sendrecv",
                                                                         "a=sendonly")),
         subscribe(from_tag="@pub"), sub_answer()]),
    "pubsub_publish_srtp_no_keys": (
        "an RTP/SAVP publisher with neither a=crypto nor a fingerprint: answered without keys",
        [publish(savp("").replace("a=sendrecv", "a=sendonly"))]),
    "pubsub_errors": (
        "errors: unknown call, unknown to-tag, missing keys",
        [publish(), cmd("subscribe request", from_tag="@pub", **{"call-id": "@nocall"}),
         cmd("subscribe answer", to_tag="@nobody", sdp=receiving()),
         cmd("subscribe answer", to_tag="@pub"),
         {"command": "publish", "call-id": "@call", "sdp": published()},
         {"command": "publish", "call-id": "@call", "from-tag": "@p2"},
         cmd("unsubscribe", **{"call-id": "@nocall", "to-tag": "@sub"}),
         {"command": "subscribe request"}]),
}


def capture(url: str, names: list[str], dual: bool = False, pubsub: bool = False) -> None:
    from sdpconf import NgClient, build_request, cleanup, restore_ids

    client = NgClient(url)
    run = secrets.token_hex(3)
    out_dir = HERE / ("cases_dual" if dual else "cases_pubsub" if pubsub else "cases")
    out_dir.mkdir(exist_ok=True)
    scenarios = DUAL_SCENARIOS if dual else PUBSUB_SCENARIOS if pubsub else SCENARIOS
    for n, (name, (description, requests)) in enumerate(scenarios.items()):
        if names and name not in names:
            continue
        prefix = f"cap{run}x{n}"
        scenario = {"steps": [{"request": r} for r in requests]}
        steps: list[dict[str, Any]] = []
        replies: list[Any] = []
        try:
            for step in scenario["steps"]:
                got = client.request(build_request(step, prefix, replies))
                replies.append(got)
                steps.append({"request": step["request"], "reply": restore_ids(got, prefix)})
        finally:
            cleanup(client, scenario, prefix)
        case = {"name": name, "topic": "rtpgate", "description": description,
                "captured_from": "rtpengine 10.5.3.5-1+deb12u1", "steps": steps}
        (out_dir / f"{name}.json").write_text(json.dumps(case, indent=1) + "\n")
        print(f"captured {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ng", required=True, help="the reference rtpengine's http://.../ng")
    parser.add_argument("--dual", action="store_true",
                        help="the dual-stack scenarios (the server has 127.0.0.1 and ::1)")
    parser.add_argument("--pubsub", action="store_true",
                        help="the publish/subscribe scenarios (into cases_pubsub/)")
    parser.add_argument("names", nargs="*", help="only these scenarios")
    args = parser.parse_args()
    capture(args.ng, args.names, args.dual, args.pubsub)
    return 0


if __name__ == "__main__":
    sys.exit(main())
