"""``ICE=force-relay``: two WebRTC peers (aiortc) whose own ICE and DTLS run end to end through
rtpgate's ports (rtpengine's pass-through mode).

The peers can only reach each other through rtpgate: the caller has host candidates on ``::1``
only, the callee on ``127.0.0.1`` only, and rtpgate's interface has both addresses.  Each peer
sees the other's candidates (which it cannot pair with) and rtpgate's ports as ``typ relay``
candidates; its checks, the other peer's answers, the DTLS-SRTP handshake between the two and
then SRTP all go through rtpgate unchanged (rtpgate has no ICE agent or DTLS endpoint of its own
on the call).  The test shows ICE and DTLS complete on both peers, audio decoded both ways, and
the packets counted on rtpgate's streams.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from media_calls import ng
from rtpgate.testing import ServerProcess, media_ports

aiortc = pytest.importorskip("aiortc")
aioice_ice = pytest.importorskip("aioice.ice")

from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import AudioStreamTrack  # noqa: E402

#: The host address each peer gathers its candidates on (switched between the two gatherings).
_HOST: list[str] = ["127.0.0.1"]


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0", *media_ports(200),
                          "-i", "127.0.0.1", "-i", "::1")


@pytest.fixture(autouse=True)
def chosen_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(aioice_ice, "get_host_addresses",
                        lambda use_ipv4, use_ipv6: list(_HOST))
    yield


async def until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def frames(pc: RTCPeerConnection, count: int) -> int:
    track = next(r.track for r in pc.getReceivers() if r.track.kind == "audio")
    for _ in range(count):
        await asyncio.wait_for(track.recv(), 10)
    return count


async def peer(host: str, remote: str | None = None) -> RTCPeerConnection:
    """A peer with an audio track whose candidates are on ``host`` only; with ``remote`` (an
    offer) it answers it."""
    _HOST[:] = [host]
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    if remote is not None:
        await pc.setRemoteDescription(RTCSessionDescription(remote, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
    else:
        await pc.setLocalDescription(await pc.createOffer())
    return pc


def candidates(sdp: str) -> list[str]:
    return re.findall(r"^a=candidate:(.*?)\r$", sdp, re.M)


def stream(query: dict[str, Any], tag: str) -> dict[str, Any]:
    found: dict[str, Any] = query["tags"][tag]["medias"][0]["streams"][0]
    return found


async def test_two_webrtc_peers_do_ice_and_dtls_end_to_end_through_rtpgate(
        server: ServerProcess) -> None:
    call_id = uuid.uuid4().hex
    caller = await peer("::1")
    callee: RTCPeerConnection | None = None
    try:
        offer = ng(server, "offer", call_id=call_id, from_tag="caller",
                   sdp=caller.localDescription.sdp, ICE="force-relay",
                   address_family="IP4")
        assert offer["result"] == "ok", offer
        text = offer["sdp"]
        # the caller's own ICE and DTLS pass through; rtpgate's ports are relay candidates
        assert caller.localDescription.sdp.split("a=ice-ufrag:")[1][:8] in text
        assert caller.localDescription.sdp.split("a=fingerprint:")[1][:60] in text
        ours = [c for c in candidates(text) if " typ relay raddr " in c]
        assert {c.split()[4] for c in ours} == {"127.0.0.1", "::1"}, text
        assert any(" ::1 " in c and "typ host" in c for c in candidates(text)), text

        callee = await peer("127.0.0.1", text)
        answer = ng(server, "answer", call_id=call_id, from_tag="caller", to_tag="callee",
                    sdp=callee.localDescription.sdp, ICE="force-relay")
        assert answer["result"] == "ok", answer
        assert "a=setup:" in answer["sdp"] and "typ relay raddr" in answer["sdp"], answer
        await caller.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

        pcs = (caller, callee)
        await until(lambda: all(pc.iceConnectionState == "completed" for pc in pcs), "ICE")
        await until(lambda: all(pc.connectionState == "connected" for pc in pcs), "DTLS")
        for pc in pcs:  # the only pair either can use is the one through rtpgate
            transport = pc.getSenders()[0].transport.transport
            pair = transport._connection._nominated[1]
            assert pair.remote_candidate.type == "relay", pair
        assert await frames(callee, 25) == 25
        assert await frames(caller, 25) == 25

        query = ng(server, "query", call_id=call_id)
        for tag in ("caller", "callee"):
            flags = query["tags"][tag]["medias"][0]["flags"]
            assert "passthrough" in flags and "DTLS-SRTP" not in flags, flags
            stats = stream(query, tag)["stats"]
            # STUN, DTLS and at least the 25 frames' SRTP packets, all relayed by rtpgate
            assert stats["packets"] >= 30 and stats["errors"] == 0, (tag, stats)
    finally:
        await caller.close()
        if callee is not None:
            await callee.close()
        ng(server, "delete", call_id=call_id)
