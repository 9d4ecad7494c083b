"""State issue 14 had left out of the stored call, over ``kill -9`` and a restart on the same
Redis: the passthrough flag (``ICE=force-relay``), labels, the SDP version of what each party
was last given, a ``block DTMF`` trigger (issue 13) in the middle of its sequence, and a
publish/subscribe subscription (issue 15).  Each is checked where it shows: ``query``, the
rewritten SDP of a re-offer, the DTMF events the peer gets, the media a subscriber gets."""

from __future__ import annotations

import re
import struct
import time
from typing import Any

from calls import LOCAL, MediaParty, ng, relay_port, sdp, wait_for
from redis_server import RedisServer, rtpgate_args
from rtpgate.testing import ServerProcess, media_ports
from test_restart import stable

KEYS = "0123456789*#ABCD"


def written(server: ServerProcess) -> None:
    """Wait until every change is in Redis (writes follow the reply after a short window)."""
    wait_for(lambda: "redis_pending 0.0" in server.http("GET", "/metrics")[2].decode(),
             what="every change written")


def ice_sdp(user: str, port: int) -> str:
    return sdp(user, port, extra=(f"a=ice-ufrag:{user[:4]}\r\na=ice-pwd:{user}password012345"
                                  f"6789\r\na=candidate:1 1 udp 2130706431 {LOCAL} {port} typ "
                                  "host\r\n"))


def same_foundation(text: str) -> str:
    """``text`` with the foundation of rtpgate's candidates replaced: it is random per local
    address and process (as rtpengine's), so a restart changes it."""
    return re.sub(r"^a=candidate:\S+ ", "a=candidate:F ", text, flags=re.M)


def sdp_version(text: str) -> int:
    found = re.search(r"^o=\S+ \S+ (\d+) ", text, re.M)
    assert found is not None, text
    return int(found.group(1))


def test_passthrough_labels_and_sdp_version_survive(redis_server: RedisServer,
                                                    node: Any) -> None:
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    offer_keys = {"call_id": "pt", "from_tag": "alice", "sdp": ice_sdp("alice", 40000),
                  "ICE": "force-relay", "label": "caller"}
    assert ng(server, "offer", **offer_keys)["result"] == "ok"
    answer = ng(server, "answer", call_id="pt", from_tag="alice", to_tag="bob",
                sdp=ice_sdp("bob", 40100), ICE="force-relay", label="callee")
    assert answer["result"] == "ok", answer
    query = ng(server, "query", call_id="pt")
    flags = {tag: query["tags"][tag]["medias"][0]["flags"] for tag in ("alice", "bob")}
    assert all("passthrough" in tag_flags for tag_flags in flags.values()), flags
    before = stable(query)
    reoffer = ng(server, "offer", **offer_keys)["sdp"]
    # a plain call, whose o= lines rtpgate writes (a passthrough call keeps the party's)
    plain = {"call_id": "plain", "from_tag": "alice", "sdp": sdp("alice", 41000),
             "replace": ["SDP-version"]}
    assert ng(server, "offer", **plain)["result"] == "ok"
    assert ng(server, "answer", call_id="plain", from_tag="alice", to_tag="bob",
              sdp=sdp("bob", 41100))["result"] == "ok"
    plain_reoffer = ng(server, "offer", **plain)["sdp"]
    written(server)
    server.kill()

    server = node(*args)
    query = ng(server, "query", call_id="pt")
    assert stable(query) == before
    assert {tag: query["tags"][tag]["medias"][0]["flags"] for tag in ("alice", "bob")} == flags
    assert same_foundation(ng(server, "offer", **offer_keys)["sdp"]) == same_foundation(reoffer)
    # ``replace: SDP-version``: a changed offer changes what bob is given, so its o= version
    # goes up by one (compared with what bob was given last, before the restart)
    changed = ng(server, "offer", **{**plain, "sdp": sdp("alice", 41200)})["sdp"]
    assert sdp_version(changed) == sdp_version(plain_reoffer) + 1, (plain_reoffer, changed)


class Typist:
    """Alice types keys as RFC 4733 events (pt 101, 5 packets each, the end three times,
    audio around them); :meth:`heard` is the keys Bob got events of."""

    def __init__(self, alice: MediaParty, bob: MediaParty) -> None:
        self.alice, self.bob = alice, bob
        self.seq = self.timestamp = 0
        self.got: list[bytes] = []

    def _send(self, packet: bytes) -> None:
        self.seq += 1
        self.alice.rtp.sendto(packet[:2] + self.seq.to_bytes(2, "big") + packet[4:],
                              self.alice.relay)
        time.sleep(0.01)
        while True:
            try:
                self.got.append(self.bob.rtp.recv(2048))
            except OSError:
                return

    def audio(self, count: int) -> None:
        for _ in range(count):
            self._send(struct.pack("!BBHII", 0x80, 8, 0, self.timestamp, 0xA11CE)
                       + b"\xd5" * 160)
            self.timestamp += 160

    def type(self, keys: str) -> str:
        self.got = []
        self.audio(3)
        for key in keys:
            start = self.timestamp
            for n in range(1, 6):
                event = (struct.pack("!BBHII", 0x80, 101 | (0x80 if n == 1 else 0), 0, start,
                                     0xA11CE)
                         + struct.pack("!BBH", KEYS.index(key), 10 | (0x80 if n == 5 else 0),
                                       n * 160))
                for _ in range(3 if n == 5 else 1):
                    self._send(event)
                self.timestamp += 160
            self.audio(3)
        self.audio(5)
        heard, last = "", b""
        for data in self.got:
            if data[1] & 0x7F == 101 and data[4:8] != last:
                heard, last = heard + KEYS[data[12]], data[4:8]
        return heard


def test_a_matched_dtmf_trigger_carries_on_after_a_restart(redis_server: RedisServer,
                                                           node: Any) -> None:
    """``trigger: 12`` switches alice to ``drop`` until ``#``; "12" is typed before the
    restart, "34#56" after it: Bob hears "12", then "#56" (3 and 4 dropped, the end sequence
    passes under the old mode, as rtpengine 10.5)."""
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    alice, bob = MediaParty.open(timeout=0.002), MediaParty.open(timeout=0.002)
    try:
        offer = ng(server, "offer", call_id="dtmf", from_tag="alice",
                   sdp=sdp("alice", alice.port, (8, 101)))
        answer = ng(server, "answer", call_id="dtmf", from_tag="alice", to_tag="bob",
                    sdp=sdp("bob", bob.port, (8, 101)))
        bob.relay, alice.relay = (LOCAL, relay_port(offer)), (LOCAL, relay_port(answer))
        reply = ng(server, "block DTMF", call_id="dtmf", from_tag="alice", trigger="12",
                   **{"DTMF-security-trigger": "drop", "trigger-end": "#"})
        assert reply["result"] == "ok", reply
        typist = Typist(alice, bob)
        assert typist.type("12") == "12"
        written(server)
        server.kill()

        server = node(*args)
        assert typist.type("34#56") == "#56"
    finally:
        alice.close()
        bob.close()


def test_a_subscriber_keeps_receiving_after_a_restart(redis_server: RedisServer,
                                                      node: Any) -> None:
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    publisher, subscriber = MediaParty.open(ssrc=0x5AB), MediaParty.open()
    try:
        published = ng(server, "publish", call_id="ps", from_tag="pub",
                       sdp=sdp("pub", publisher.port, (0,)).replace("sendrecv", "sendonly"))
        assert published["result"] == "ok", published
        publisher.relay = (LOCAL, relay_port(published))
        request = ng(server, "subscribe request", call_id="ps", from_tag="pub", to_tag="sub")
        assert request["result"] == "ok", request
        reply = ng(server, "subscribe answer", call_id="ps", to_tag="sub",
                   sdp=sdp("sub", subscriber.port, (0,)).replace("sendrecv", "recvonly"))
        assert reply["result"] == "ok", reply

        def receives() -> bool:
            publisher.send()
            time.sleep(0.02)
            return subscriber.drain() > 0

        wait_for(receives, what="the subscriber receiving the published media")
        before = stable(ng(server, "query", call_id="ps"))
        written(server)
        server.kill()

        server = node(*args)
        subscriber.drain()
        wait_for(receives, what="the subscriber receiving after the restart")
        assert stable(ng(server, "query", call_id="ps")) == before
    finally:
        publisher.close()
        subscriber.close()


def test_a_delay_buffer_holds_after_a_restart(redis_server: RedisServer, node: Any) -> None:
    """``block DTMF`` with ``delay-buffer=300``: after ``kill -9`` and a restart, alice's
    packets still reach bob 300 ms late."""
    args = rtpgate_args(redis_server, 1, media_ports())
    server = node(*args)
    alice, bob = MediaParty.open(timeout=0.002), MediaParty.open(timeout=0.002)
    try:
        offer = ng(server, "offer", call_id="delay", from_tag="alice",
                   sdp=sdp("alice", alice.port, (0,)))
        answer = ng(server, "answer", call_id="delay", from_tag="alice", to_tag="bob",
                    sdp=sdp("bob", bob.port, (0,)))
        bob.relay, alice.relay = (LOCAL, relay_port(offer)), (LOCAL, relay_port(answer))
        reply = ng(server, "block DTMF", call_id="delay", from_tag="alice",
                   **{"DTMF-security": "silence", "delay-buffer": 300})
        assert reply["result"] == "ok", reply
        written(server)
        server.kill()
        server = node(*args)
        arrived: list[float] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline and len(arrived) < 10:
            sent = time.monotonic()
            alice.send()
            while time.monotonic() < sent + 0.02:
                if bob.drain():
                    arrived.append(time.monotonic())
        first_sent = deadline - 3.0
        assert len(arrived) >= 5 and arrived[0] - first_sent >= 0.29, (
            len(arrived), arrived[:1], first_sent)
    finally:
        alice.close()
        bob.close()
