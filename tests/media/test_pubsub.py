"""Publish/subscribe over real sockets against a real rtpgate: a publisher sends a tone, several
subscribers (plain RTP, SDES-SRTP checked by libsrtp) each get every packet, one unsubscribes and
stops getting them while the others go on; a subscription to an offer/answer party; SIPREC
subscriptions to both parties; bad requests answered with rtpengine's errors and nothing left
behind; each subscriber's own SSRC/sequence/timestamp space (issue 15) over a source's SSRC
change, a restart of its sequence numbers and a move to another source, and the source's RTCP
in it."""

from __future__ import annotations

import base64
import math
import re
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pylibsrtp
import pytest
import rtpgate
from media_calls import LOCAL, Call, ng, udp_pair
from rtpgate.testing import ServerProcess, media_ports

RTP = struct.Struct("!BBHII")
SSRC = 0x5EED5
TONE_HZ = 1000
AES80 = "AES_CM_128_HMAC_SHA1_80"


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(200))


def ulaw(sample: int) -> int:
    """G.711 mu-law of one 16-bit sample (ITU-T G.711; the test's own, so it checks rtpgate
    with no codec library)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def unulaw(byte: int) -> int:
    byte = ~byte & 0xFF
    magnitude = (((byte & 0x0F) << 3) + 0x84) << ((byte >> 4) & 0x07)
    return 0x84 - magnitude if byte & 0x80 else magnitude - 0x84


def tone_payload(seq: int, rate: int = 8000, samples: int = 160) -> bytes:
    """20 ms of a 1 kHz tone in PCMU (phase-continuous from packet to packet)."""
    return bytes(ulaw(int(8000 * math.sin(2 * math.pi * TONE_HZ * (seq * samples + i) / rate)))
                 for i in range(samples))


def packet(seq: int, pt: int = 0) -> bytes:
    return RTP.pack(0x80, pt, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, SSRC) + tone_payload(seq)


def publish_sdp(port: int, codecs: str = "0 8", extra: str = "") -> str:
    return (f"v=0\r\no=pub 1545997027 1 IN IP4 {LOCAL}\r\ns=tester\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {codecs}\r\nc=IN IP4 {LOCAL}\r\n{extra}a=sendonly\r\n")


def recv_sdp(port: int, codecs: str = "0", proto: str = "RTP/AVP", extra: str = "") -> str:
    return (f"v=0\r\no=sub 1 1 IN IP4 {LOCAL}\r\ns=sub\r\nt=0 0\r\n"
            f"m=audio {port} {proto} {codecs}\r\nc=IN IP4 {LOCAL}\r\n{extra}a=recvonly\r\n")


def port_of(text: str, index: int = 0) -> int:
    return int(re.findall(r"^m=audio (\d+) ", text, re.M)[index])


class Endpoint:
    """A party's RTP and RTCP sockets."""

    def __init__(self) -> None:
        self.rtp, self.rtcp = udp_pair()

    @property
    def port(self) -> int:
        return int(self.rtp.getsockname()[1])

    def receive(self, timeout: float = 2.0) -> bytes:
        self.rtp.settimeout(timeout)
        return self.rtp.recvfrom(4096)[0]

    def nothing(self, wait: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            self.receive(wait)

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


@pytest.fixture
def endpoints() -> Iterator[Callable[[], Endpoint]]:
    made: list[Endpoint] = []

    def make() -> Endpoint:
        made.append(Endpoint())
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


def used_ports(server: ServerProcess) -> int:
    reply = ng(server, "statistics")
    return sum(i["ports"]["used"] for i in reply["statistics"]["interfaces"])


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["result"] == "ok", reply
    return reply


def srtp_session(line: str) -> pylibsrtp.Session:
    """libsrtp's receiving session for an ``a=crypto`` line rtpgate offered."""
    _tag, suite, key = line.split()[:3]
    assert suite == AES80, line
    material = base64.b64decode(key[len("inline:"):].split("|")[0] + "==")
    return pylibsrtp.Session(pylibsrtp.Policy(
        key=material, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND))


def check_tone(payload: bytes) -> None:
    """The PCMU payload decodes to a 1 kHz tone: its energy is at 1 kHz (Goertzel)."""
    samples = [unulaw(b) for b in payload]
    coeff = 2 * math.cos(2 * math.pi * TONE_HZ / 8000)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    energy = sum(x * x for x in samples) * len(samples) / 2
    assert power > 0.8 * energy, (power, energy)


class Subscriber:
    def __init__(self, server: ServerProcess, call_id: str, source: str, endpoint: Endpoint,
                 proto: str = "RTP/AVP", **keys: Any) -> None:
        self.endpoint = endpoint
        self.request = ok(ng(server, "subscribe request", call_id=call_id, from_tag=source,
                             **keys))
        self.tag: str = self.request["to-tag"]
        offer = self.request["sdp"]
        self.crypto = [line for line in re.findall(r"^a=crypto:(.+?)\r$", offer, re.M)
                       if line.split()[1] == AES80]
        extra = f"a=crypto:{self.crypto[0]}\r\n" if proto != "RTP/AVP" else ""
        codecs = re.search(r"^m=audio \d+ \S+ (.+?)\r$", offer, re.M)
        assert codecs, offer
        ok(ng(server, "subscribe answer", call_id=call_id, to_tag=self.tag,
              sdp=recv_sdp(endpoint.port, codecs.group(1), proto, extra)))
        self.srtp = srtp_session(self.crypto[0]) if extra else None

    def receive(self) -> bytes:
        data = self.endpoint.receive()
        return self.srtp.unprotect(data) if self.srtp is not None else data


def test_three_subscribers_one_leaves(server: ServerProcess,
                                      endpoints: Callable[[], Endpoint]) -> None:
    call_id = uuid.uuid4().hex
    publisher = endpoints()
    before = used_ports(server)
    reply = ok(ng(server, "publish", call_id=call_id, from_tag="pub",
                  sdp=publish_sdp(publisher.port)))
    answer = reply["sdp"]
    assert "a=recvonly\r\n" in answer and "m=audio " in answer and " RTP/AVP 0\r\n" in answer
    relay = (LOCAL, port_of(answer))

    plain = Subscriber(server, call_id, "pub", endpoints())
    assert plain.request["from-tag"] == "pub" and plain.request["from-tags"] == ["pub"]
    assert "a=sendonly\r\n" in plain.request["sdp"]
    assert plain.request["sdp"].startswith("v=0\r\no=pub 1545997027 1 IN IP4 ")
    srtp = Subscriber(server, call_id, "pub", endpoints(), proto="RTP/SAVP",
                      transport_protocol="RTP/SAVP")
    third = Subscriber(server, call_id, "pub", endpoints())
    assert len({plain.tag, srtp.tag, third.tag}) == 3

    subscribers = (plain, srtp, third)
    got: dict[str, list[bytes]] = {s.tag: [] for s in subscribers}
    for seq in range(1000, 1010):
        publisher.rtp.sendto(packet(seq), relay)
        for sub in subscribers:
            got[sub.tag].append(sub.receive())
    for sub in subscribers:
        seqs = [RTP.unpack(p[:12])[2] for p in got[sub.tag]]
        stamps = [RTP.unpack(p[:12])[3] for p in got[sub.tag]]
        assert seqs == list(range(1000, 1010)), (sub.tag, seqs)
        assert stamps == [s * 160 for s in range(1000, 1010)], (sub.tag, stamps)
        for payload in got[sub.tag]:
            check_tone(payload[12:])
    # SRTP: on the wire it is not the plain packet
    query = ok(ng(server, "query", call_id=call_id))
    subs = query["tags"]["pub"]["subscribers"]
    assert [s["type"] for s in subs] == ["pub/sub"] * 3
    assert query["tags"][srtp.tag]["subscriptions"] == [{"tag": "pub", "type": "pub/sub"}]

    ok(ng(server, "unsubscribe", call_id=call_id, to_tag=third.tag))
    for seq in range(1010, 1015):
        publisher.rtp.sendto(packet(seq), relay)
        assert RTP.unpack(plain.receive()[:12])[2] == seq
        assert RTP.unpack(srtp.receive()[:12])[2] == seq
    third.endpoint.nothing()
    # a second unsubscribe changes nothing, as rtpengine's
    ok(ng(server, "unsubscribe", call_id=call_id, to_tag=third.tag))
    ok(ng(server, "delete", call_id=call_id))
    assert used_ports(server) == before


def test_subscribe_to_offer_answer_party(server: ServerProcess,
                                         endpoints: Callable[[], Endpoint]) -> None:
    call = Call(server).connect()
    try:
        sub = Subscriber(server, call.call_id, "alice", endpoints(), set_label="listener")
        assert sub.request["sdp"].startswith("v=0\r\no=alice 1 1 IN IP4 ")
        tags = ok(ng(server, "query", call_id=call.call_id))["tags"]
        assert tags[sub.tag]["label"] == "listener"
        # the subscription is found by its label (here: to subscribe to it in turn)
        again = ok(ng(server, "subscribe request", call_id=call.call_id, label="listener"))
        assert again["from-tag"] == sub.tag
        ok(ng(server, "unsubscribe", call_id=call.call_id, to_tag=again["to-tag"]))
        for seq in range(1, 6):
            call.alice.send(packet(seq))
            assert RTP.unpack(call.bob.rtp.recvfrom(4096)[0][:12])[2] == seq
            assert RTP.unpack(sub.receive()[:12])[2] == seq
        # what the subscriber sends goes nowhere
        sub.endpoint.rtp.sendto(packet(99), (LOCAL, port_of(sub.request["sdp"])))
        call.bob.rtp.settimeout(0.3)
        with pytest.raises(TimeoutError):
            call.bob.rtp.recvfrom(4096)
    finally:
        call.close()


def test_siprec_subscription_to_both_parties(server: ServerProcess) -> None:
    call = Call(server).connect(label="caller")  # the offer's and the answer's label
    try:
        reply = ok(ng(server, "subscribe request", call_id=call.call_id,
                      flags=["all", "SIPREC"]))
        offer = reply["sdp"]
        assert "from-tag" not in reply
        assert reply["from-tags"] == ["alice", "bob"]
        assert re.findall(r"^a=label:(\d+)\r$", offer, re.M) == ["1", "0"]
        assert offer.count("a=sendonly\r\n") == 2
        assert list(reply) == ["sdp", "tag-medias", "media-labels", "from-tags", "to-tag",
                               "result"]
        assert reply["tag-medias"] == [
            {"tag": "alice", "label": "caller",
             "medias": [{"index": 1, "type": "audio", "label": "1", "mode": "sendrecv"}]},
            {"tag": "bob", "label": "caller",
             "medias": [{"index": 1, "type": "audio", "label": "0", "mode": "sendrecv"}]}]
        assert reply["media-labels"] == {
            "1": {"tag": "alice", "index": 1, "type": "audio", "label": "caller",
                  "mode": "sendrecv"},
            "0": {"tag": "bob", "index": 1, "type": "audio", "label": "caller",
                  "mode": "sendrecv"}}
    finally:
        call.close()


def test_bad_requests_leave_nothing(server: ServerProcess,
                                    endpoints: Callable[[], Endpoint]) -> None:
    call_id = uuid.uuid4().hex
    publisher = endpoints()
    before = used_ports(server)
    # publish creates the call, as rtpengine's (it is an offer without an answer)
    ok(ng(server, "publish", call_id=call_id, from_tag="pub", sdp=publish_sdp(publisher.port)))
    after_publish = used_ports(server)
    assert after_publish == before + 2

    def error(command: str, **keys: Any) -> str:
        reply = ng(server, command, **keys)
        assert reply["result"] == "error", reply
        return str(reply["error-reason"])

    assert error("subscribe request", call_id=call_id, from_tag="nobody") == \
        "From-tag given, but no such tag exists"
    assert error("subscribe request", call_id=call_id, from_tags=["x", "y"]) == \
        "No monologues matched"
    assert error("subscribe request", call_id="no-such-call", from_tag="pub") == \
        "Unknown call-ID"
    assert error("subscribe request", call_id=call_id, label="nobody") == \
        "No monologue matching the given label"
    assert error("subscribe answer", call_id=call_id, to_tag="nobody",
                 sdp=recv_sdp(4000)) == "To-tag not found"
    assert error("subscribe answer", call_id=call_id, to_tag="pub") == \
        "No SDP body in message"
    assert error("unsubscribe", call_id=call_id, to_tag="nobody") == "To-tag not found"
    assert error("unsubscribe", call_id="no-such-call", to_tag="x") == "Unknown call-ID"
    assert error("publish", call_id=call_id, from_tag="pub2", sdp="v=0\r\nbogus") == \
        "Failed to parse SDP"
    assert error("publish", call_id=call_id, sdp=publish_sdp(4000)) == "No from-tag in message"
    # an answer that does not take the offered codec
    sub = ok(ng(server, "subscribe request", call_id=call_id, from_tag="pub"))
    assert error("subscribe answer", call_id=call_id, to_tag=sub["to-tag"],
                 sdp=recv_sdp(4000, "8")) == "Failed to process subscription answer"
    assert used_ports(server) == after_publish + 2
    query = ok(ng(server, "query", call_id=call_id))
    assert sorted(query["tags"]) == sorted(["pub", sub["to-tag"]])
    # the CLI shows the pub/sub links as rtpengine's does
    status, _, text = server.http("GET", f"/cli/list%20sessions%20{call_id}")
    assert status == 200, text
    assert ("--- Tag 'pub', type: UNKNOWN, label '', branch '', callduration"
            in text.decode()), text
    assert (f"---     subscription of media with monologue tag '{sub['to-tag']}' (index: 1)"
            in text.decode()), text
    assert "---     subscribed to media with monologue tag 'pub' (index: 1)" in text.decode()
    ok(ng(server, "unsubscribe", call_id=call_id, to_tag=sub["to-tag"]))
    assert used_ports(server) == after_publish
    ok(ng(server, "delete", call_id=call_id))
    assert used_ports(server) == before


def test_connect_two_publishers(server: ServerProcess,
                                endpoints: Callable[[], Endpoint]) -> None:
    """``connect`` pairs two parties that already have their media: each gets what the other
    sends; a bad request changes nothing."""
    call_id = uuid.uuid4().hex
    one, two = endpoints(), endpoints()
    first = ok(ng(server, "publish", call_id=call_id, from_tag="one",
                  sdp=publish_sdp(one.port, "0")))
    second = ok(ng(server, "publish", call_id=call_id, from_tag="two",
                   sdp=publish_sdp(two.port, "0")))
    to_one, to_two = (LOCAL, port_of(first["sdp"])), (LOCAL, port_of(second["sdp"]))
    one.rtp.sendto(packet(1), to_one)
    two.nothing()

    def error(**keys: Any) -> str:
        reply = ng(server, "connect", call_id=call_id, **keys)
        assert reply["result"] == "error", reply
        return str(reply["error-reason"])

    assert error(from_tag="one") == "No to-tag in message"
    assert error(from_tag="one", to_tag="nobody") == "To-tag not found"
    assert error(from_tag="nobody", to_tag="two") == "From-tag given, but no such tag exists"
    assert error(from_tag="one", to_tag="one") == "Cannot connect a party to itself"
    assert error(from_tag="one", to_tag="two", to_call_id="other") == \
        "Connecting parties of different calls is not supported"
    one.rtp.sendto(packet(2), to_one)
    two.nothing()

    ok(ng(server, "connect", call_id=call_id, from_tag="one", to_tag="two"))
    for seq in range(3, 6):
        one.rtp.sendto(packet(seq), to_one)
        assert RTP.unpack(two.receive()[:12])[2] == seq
        two.rtp.sendto(packet(seq + 100), to_two)
        assert RTP.unpack(one.receive()[:12])[2] == seq + 100
    tags = ok(ng(server, "query", call_id=call_id))["tags"]
    assert tags["one"]["subscribers"] == [{"tag": "two", "type": "offer/answer"}]
    ok(ng(server, "delete", call_id=call_id))


def sender_report(ssrc: int) -> bytes:
    """An RTCP SR with one report block (RFC 3550 6.4.1)."""
    return (struct.pack("!BBHI", 0x81, 200, 12, ssrc)
            + struct.pack("!IIIII", 0xE000_0000, 0x8000_0000, 160_000, 10, 1600)
            + struct.pack("!IIIIII", 0x4242, 0, 0, 0, 0, 0))


def receiver_report(ssrc: int, about: int) -> bytes:
    return struct.pack("!BBHI", 0x81, 201, 7, ssrc) + struct.pack("!IIIIII", about, 0, 7, 0,
                                                                   0, 0)


def recv_all(sock: Any, wait: float = 0.5) -> list[bytes]:
    """Every datagram ``sock`` gets until it has been quiet for ``wait`` seconds."""
    got = []
    sock.settimeout(wait)
    while True:
        try:
            got.append(sock.recvfrom(4096)[0])
        except TimeoutError:
            return got


def renumbered(packets: list[bytes], seq: int, ts: int, ssrc: int) -> list[bytes]:
    """``packets`` with the sequence numbers from ``seq``, timestamps moved so the first is
    ``ts``, and SSRC ``ssrc``: what a subscriber gets in its own numbering."""
    shift = ts - RTP.unpack(packets[0][:12])[3]
    return [p[:2] + struct.pack("!HII", (seq + i) & 0xFFFF,
                                (RTP.unpack(p[:12])[3] + shift) & 0xFFFFFFFF, ssrc) + p[12:]
            for i, p in enumerate(packets)]


class Gap:
    """The wall-clock time between the test's last packet before a change of the source
    (:meth:`stopped`) and its packets after it (:meth:`resumed`), to bound how far a
    subscriber's timestamp moves on."""

    def __init__(self) -> None:
        self.last = self.first = time.time()

    def stopped(self) -> None:
        self.last = time.time()

    def resumed(self) -> None:
        self.first = time.time()

    def continued(self, got: list[bytes], sent: list[bytes], seq: int, last_ts: int,
                  ssrc: int) -> int:
        """``got`` is ``sent`` in a subscriber's own numbering: SSRC ``ssrc``, sequence numbers
        from ``seq``, the first timestamp moved on from ``last_ts`` (the subscriber's last one)
        by the media time that passed at 8 kHz (the time between the relay's two packets,
        bounded by what the test saw, with 0.3 s and 1 s of slack for the relay's delays), at
        least one packet (160); the timestamps after it as the source's.  Returns the first
        timestamp."""
        assert got, "nothing received"
        first = RTP.unpack(got[0][:12])[3]
        gap = self.first - self.last
        advance = (first - last_ts) & 0xFFFFFFFF
        assert max(160, int((gap - 0.3) * 8000)) <= advance <= 160 + (gap + 1.0) * 8000, (
            advance, gap)
        assert got == renumbered(sent, seq, first, ssrc)
        return int(first)


def tone(first: int, count: int, ssrc: int = SSRC) -> list[bytes]:
    """``count`` tone packets from sequence number ``first`` (timestamp ``160 * first``)."""
    return [RTP.pack(0x80, 0, (first + i) & 0xFFFF, ((first + i) * 160) & 0xFFFFFFFF, ssrc)
            + tone_payload(first + i) for i in range(count)]


def test_late_subscribers_ssrc_change_and_rtcp(server: ServerProcess,
                                               endpoints: Callable[[], Endpoint]) -> None:
    """A plain subscriber gets the publisher's packets as they are (as rtpengine 10.5's) from
    the one it joined at, and when the source changes its SSRC its stream goes on in its own
    numbering (issue 15: rtpengine passes the new SSRC through); an SDES subscriber that joins
    after the publisher's sequence numbers wrapped has its own SRTP context (rollover counter
    from 0), so it decrypts; the publisher's sender reports reach every subscriber (SRTCP for
    the SDES one) with the sender SSRC and RTP timestamp of the subscriber's stream, the
    subscribers' receiver reports and RTP go nowhere."""
    call_id = uuid.uuid4().hex
    publisher = endpoints()
    reply = ok(ng(server, "publish", call_id=call_id, from_tag="pub",
                  sdp=publish_sdp(publisher.port, "0")))
    relay = port_of(reply["sdp"])
    early = Subscriber(server, call_id, "pub", endpoints())

    before = tone(65530, 10)  # the publisher's sequence numbers wrap: 65530 ... 3
    for data in before:
        publisher.rtp.sendto(data, (LOCAL, relay))
    assert recv_all(early.endpoint.rtp) == before
    late = Subscriber(server, call_id, "pub", endpoints())
    secure = Subscriber(server, call_id, "pub", endpoints(), proto="RTP/SAVP",
                        transport_protocol="RTP/SAVP")
    changed = tone(300, 5, ssrc=0xABCDEF)
    gap = Gap()
    for data in tone(4, 5):
        publisher.rtp.sendto(data, (LOCAL, relay))
    gap.stopped()
    for data in changed:  # then a new source SSRC
        publisher.rtp.sendto(data, (LOCAL, relay))
    gap.resumed()
    assert secure.srtp is not None
    got = [recv_all(early.endpoint.rtp), recv_all(late.endpoint.rtp),
           [secure.srtp.unprotect(p) for p in recv_all(secure.endpoint.rtp)]]
    for packets in got:
        assert packets[:5] == tone(4, 5)
        gap.continued(packets[5:], changed, 9, 8 * 160, SSRC)

    report = sender_report(0xABCDEF)

    def mapped(first: int) -> bytes:
        return (report[:4] + struct.pack("!I", SSRC) + report[8:16]
                + struct.pack("!I", (160_000 + first - 300 * 160) & 0xFFFFFFFF) + report[20:])

    publisher.rtcp.sendto(report, (LOCAL, relay + 1))
    reports = [recv_all(early.endpoint.rtcp), recv_all(late.endpoint.rtcp),
               [secure.srtp.unprotect_rtcp(p) for p in recv_all(secure.endpoint.rtcp)]]
    for packets, received in zip(got, reports, strict=True):
        assert received == [mapped(RTP.unpack(packets[5][:12])[3])]

    for sub in (early, late):
        offer_port = port_of(sub.request["sdp"])
        sub.endpoint.rtcp.sendto(receiver_report(0x77, 0xABCDEF), (LOCAL, offer_port + 1))
        sub.endpoint.rtp.sendto(packet(1), (LOCAL, offer_port))
    assert recv_all(publisher.rtcp, 0.3) == [] and recv_all(publisher.rtp, 0.1) == []
    ok(ng(server, "delete", call_id=call_id))


def sdes(ssrc: int, cname: bytes) -> bytes:
    """An RTCP SDES packet with one chunk: ``ssrc``'s CNAME (RFC 3550 6.5)."""
    chunk = struct.pack("!IBB", ssrc, 1, len(cname)) + cname
    chunk += b"\0" * (4 - len(chunk) % 4)
    return struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def test_each_subscriber_keeps_its_own_numbering(server: ServerProcess,
                                                 endpoints: Callable[[], Endpoint]) -> None:
    """Issue 15: each subscriber has its own SSRC/sequence/timestamp space.  It starts aligned
    with the source (what it gets is the source's packets as they are); when the source
    changes its SSRC and then restarts its sequence numbers, the subscriber's stream stays
    one SSRC with sequence numbers + 1 and timestamps advanced by one packet; a subscriber
    that joins after the change starts aligned with the new SSRC, and a jump of the source's
    numbering moves it on in its own.  The source's RTCP (an SR and an SDES) reaches each in
    its own space."""
    call_id = uuid.uuid4().hex
    publisher = endpoints()
    reply = ok(ng(server, "publish", call_id=call_id, from_tag="pub",
                  sdp=publish_sdp(publisher.port, "0")))
    relay = (LOCAL, port_of(reply["sdp"]))
    first = Subscriber(server, call_id, "pub", endpoints())
    start = tone(1000, 20)
    for data in start:
        publisher.rtp.sendto(data, relay)
    gap = Gap()
    assert recv_all(first.endpoint.rtp) == start

    changed = tone(50000, 20, ssrc=0xC0FFEE)  # a new SSRC, other sequence numbers
    for data in changed:
        publisher.rtp.sendto(data, relay)
    gap.resumed()
    shifted = gap.continued(recv_all(first.endpoint.rtp), changed, 1020, 1019 * 160, SSRC)
    shift = shifted - 50000 * 160  # the first subscriber's timestamp offset from here on

    joined = Subscriber(server, call_id, "pub", endpoints())
    more = tone(50020, 10, ssrc=0xC0FFEE)
    for data in more:
        publisher.rtp.sendto(data, relay)
    gap.stopped()
    assert recv_all(first.endpoint.rtp) == renumbered(more, 1040, 50020 * 160 + shift, SSRC)
    assert recv_all(joined.endpoint.rtp) == more  # aligned with the SSRC it joined at

    restarted = tone(7, 20, ssrc=0xC0FFEE)  # the same SSRC restarts its numbering
    for data in restarted:
        publisher.rtp.sendto(data, relay)
    gap.resumed()
    got_first = recv_all(first.endpoint.rtp)
    got_joined = recv_all(joined.endpoint.rtp)
    first_ts = gap.continued(got_first, restarted, 1050, 50029 * 160 + shift, SSRC)
    joined_ts = gap.continued(got_joined, restarted, 50030, 50029 * 160, 0xC0FFEE)
    for got in (got_first, got_joined):
        for data in got:
            check_tone(data[12:])

    report = sender_report(0xC0FFEE)
    described = sdes(0xC0FFEE, b"publisher@example")

    def sr_as(ssrc: int, moved: int) -> bytes:
        return (report[:4] + struct.pack("!I", ssrc) + report[8:16]
                + struct.pack("!I", (160_000 + moved) & 0xFFFFFFFF) + report[20:])

    publisher.rtcp.sendto(report + described, (LOCAL, relay[1] + 1))
    assert recv_all(first.endpoint.rtcp) == [
        sr_as(SSRC, first_ts - 7 * 160) + sdes(SSRC, b"publisher@example")]
    assert recv_all(joined.endpoint.rtcp) == [sr_as(0xC0FFEE, joined_ts - 7 * 160) + described]
    ok(ng(server, "delete", call_id=call_id))


def test_sdes_publisher(server: ServerProcess, endpoints: Callable[[], Endpoint]) -> None:
    """An SDES-SRTP publisher, answered as rtpengine 10.5 answers it (its first suite, a key of
    rtpgate's): what it sends is decrypted for a plain subscriber (``transport-protocol``
    RTP/AVP) and re-encrypted for a subscriber that kept the publisher's transport (whose offer
    starts with the publisher's own lines, as 10.5's)."""
    call_id = uuid.uuid4().hex
    publisher = endpoints()
    key = bytes(range(30))
    line = f"1 {AES80} inline:{base64.b64encode(key).decode()}"
    sdp = publish_sdp(publisher.port, "0", f"a=crypto:{line}\r\n").replace(
        "RTP/AVP", "RTP/SAVP")
    answer = ok(ng(server, "publish", call_id=call_id, from_tag="pub", sdp=sdp))["sdp"]
    assert " RTP/SAVP 0\r\n" in answer, answer
    assert re.findall(rf"^a=crypto:1 {AES80} inline:\S+\r$", answer, re.M), answer
    assert line not in answer
    plain = Subscriber(server, call_id, "pub", endpoints(), transport_protocol="RTP/AVP")
    secure = Subscriber(server, call_id, "pub", endpoints(), proto="RTP/SAVP")
    assert secure.crypto[0] == line  # the publisher's own line first
    sender = pylibsrtp.Session(pylibsrtp.Policy(
        key=key, srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
        ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    relay = (LOCAL, port_of(answer))
    sent = [packet(seq) for seq in range(20, 30)]
    for data in sent:
        publisher.rtp.sendto(sender.protect(data), relay)
    assert recv_all(plain.endpoint.rtp) == sent
    assert secure.srtp is not None
    assert [secure.srtp.unprotect(p) for p in recv_all(secure.endpoint.rtp)] == sent
    ok(ng(server, "delete", call_id=call_id))


@pytest.mark.parametrize("source", ["command line", "rtpengine.conf", "environment"])
def test_software_id_names_the_sdps_rtpgate_makes(
        rtpgate_server: Callable[..., ServerProcess], tmp_path: Any, source: str,
        endpoints: Callable[[], Endpoint]) -> None:
    """``--software-id`` (or its INI key, or ``RTPGATE_SOFTWARE_ID``) is the ``s=`` of a
    publish's answer and of the offer of a subscription to two parties, in rtpengine's
    canonical form (only letters, digits and ``-``); without it, ``s=rtpgate-VERSION``."""
    given = "rtpengine-10.5.3.5-1~deb12u1"
    args, env = ["--delete-delay=0", *media_ports(20)], {}
    if source == "command line":
        args.append(f"--software-id={given}")
    elif source == "rtpengine.conf":
        conf = tmp_path / "rtpengine.conf"
        conf.write_text(f"[rtpengine]\nsoftware-id = {given}\n")
        args.append(f"--config-file={conf}")
    else:
        env["RTPGATE_SOFTWARE_ID"] = given
    server = rtpgate_server(*args, env=env)
    call_id = uuid.uuid4().hex
    answer = ok(ng(server, "publish", call_id=call_id, from_tag="pub",
                   sdp=publish_sdp(endpoints().port)))["sdp"]
    assert re.findall(r"^s=(.*?)\r$", answer, re.M) == ["rtpengine-10-5-3-5-1-deb12u1"]
    ok(ng(server, "publish", call_id=call_id, from_tag="pub2",
          sdp=publish_sdp(endpoints().port)))
    offer = ok(ng(server, "subscribe request", call_id=call_id,
                  from_tags=["pub", "pub2"]))["sdp"]
    assert re.findall(r"^s=(.*?)\r$", offer, re.M) == ["rtpengine-10-5-3-5-1-deb12u1"]


def test_software_id_default(server: ServerProcess, endpoints: Callable[[], Endpoint]) -> None:
    answer = ok(ng(server, "publish", call_id=uuid.uuid4().hex, from_tag="pub",
                   sdp=publish_sdp(endpoints().port)))["sdp"]
    version = rtpgate.__version__.replace(".", "-")
    assert re.findall(r"^s=(.*?)\r$", answer, re.M) == [f"rtpgate-{version}"]


def test_a_moved_subscriber_goes_on_in_its_own_numbering(
        server: ServerProcess, endpoints: Callable[[], Endpoint]) -> None:
    """Issue 15: a subscriber re-subscribed (its to-tag) from one publisher to another keeps
    its stream: the second publisher's packets come with the SSRC it had, sequence numbers
    + 1 and timestamps moved on by the time that passed; a new subscriber of the second
    publisher gets that publisher's packets as they are."""
    call_id = uuid.uuid4().hex
    first, second = endpoints(), endpoints()
    relays = []
    for tag, publisher in (("one", first), ("two", second)):
        reply = ok(ng(server, "publish", call_id=call_id, from_tag=tag,
                      sdp=publish_sdp(publisher.port, "0")))
        relays.append((LOCAL, port_of(reply["sdp"])))
    party = endpoints()
    moved = Subscriber(server, call_id, "one", party)
    sent = tone(2000, 10)
    for data in sent:
        first.rtp.sendto(data, relays[0])
    gap = Gap()
    assert recv_all(party.rtp) == sent

    again = Subscriber(server, call_id, "two", party, to_tag=moved.tag)
    assert again.tag == moved.tag
    other = Subscriber(server, call_id, "two", endpoints())
    theirs = tone(40000, 10, ssrc=0x7777)
    for data in theirs:
        second.rtp.sendto(data, relays[1])
    gap.resumed()
    gap.continued(recv_all(party.rtp), theirs, 2010, 2009 * 160, SSRC)
    assert recv_all(other.endpoint.rtp) == theirs
    for data in tone(2010, 3):  # the first publisher reaches it no more
        first.rtp.sendto(data, relays[0])
    assert recv_all(party.rtp, 0.3) == []
    ok(ng(server, "delete", call_id=call_id))
