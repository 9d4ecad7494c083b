"""Acceptance: calls move between rtpengine 10.5 and rtpgate through Redis, both ways (issue
14).  A plain RTP call with two legs is written by one, the writer is killed, and the other
restores it on the same ports and relays its media; ``query`` and ``delete`` work there.

rtpengine 10.5 reads only JSON, so rtpgate writes with ``--redis-format=JSON`` here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from calls import LOCAL, Call, flows, ng, relay_port, sdp, wait_for
from redis_server import RedisServer
from rtpengine_ref import MEDIA_RANGE, Rtpengine, unavailable

REASON = unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def _rtpgate_args(redis: RedisServer, db: int) -> list[str]:
    return ["--listen-http=127.0.0.1:0", "--interface=127.0.0.1", *MEDIA_RANGE,
            f"--redis={redis.address}/{db}", "--redis-format=JSON", "--delete-delay=0"]


def _connect_rtpengine(rtpe: Rtpengine, call: Call) -> None:
    offer = rtpe.ng("offer", call_id=call.call_id, from_tag="alice",
                    sdp=sdp("alice", call.alice.port))
    assert offer["result"] == "ok", offer
    call.bob.relay = (LOCAL, relay_port(offer))
    answer = rtpe.ng("answer", call_id=call.call_id, from_tag="alice", to_tag="bob",
                     sdp=sdp("bob", call.bob.port))
    assert answer["result"] == "ok", answer
    call.alice.relay = (LOCAL, relay_port(answer))


def test_a_call_written_by_rtpengine_is_restored_by_rtpgate(
        tmp_path: Path, redis_server: RedisServer, node: Any) -> None:
    rtpe = Rtpengine(tmp_path / "rtpengine", f"{redis_server.address}/1").start()
    call = Call("from-rtpengine")
    try:
        _connect_rtpengine(rtpe, call)
        assert flows([call]) == []
        wait_for(lambda: redis_server.client(1).exists(call.call_id), what="rtpengine's key")
        rtpe.kill()
        rtpgate = node(*_rtpgate_args(redis_server, 1))
        assert "restored 1 calls from Redis" in rtpgate.log, rtpgate.log
        assert flows([call]) == []
        query = ng(rtpgate, "query", call_id=call.call_id)
        assert query["result"] == "ok"
        assert set(query["tags"]) == {"alice", "bob"}
        assert ng(rtpgate, "delete", call_id=call.call_id, from_tag="alice")["result"] == "ok"
        wait_for(lambda: not redis_server.client(1).exists(call.call_id), what="the key deleted")
    finally:
        rtpe.kill()
        call.close()


def test_a_call_written_by_rtpgate_is_restored_by_rtpengine(
        tmp_path: Path, redis_server: RedisServer, node: Any) -> None:
    rtpgate = node(*_rtpgate_args(redis_server, 2))
    call = Call("from-rtpgate").connect(rtpgate)
    rtpe = Rtpengine(tmp_path / "rtpengine", f"{redis_server.address}/2")
    try:
        assert flows([call]) == []
        wait_for(lambda: redis_server.client(2).exists(call.call_id), what="rtpgate's key")
        rtpgate.kill()
        rtpe.start()
        query = wait_for(lambda: (lambda q: q if q.get("result") == "ok" else None)(
            rtpe.ng("query", call_id=call.call_id)), what="rtpengine to restore the call")
        assert set(query["tags"]) == {"alice", "bob"}, query
        assert flows([call]) == [], rtpe.log
        assert rtpe.ng("delete", call_id=call.call_id, from_tag="alice")["result"] == "ok"
    finally:
        rtpe.kill()
        call.close()
