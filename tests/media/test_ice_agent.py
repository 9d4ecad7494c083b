"""rtpgate's ICE agent against a second instance of itself, over real UDP sockets on 127.0.0.1:
role conflict and its resolution, nomination, peer-reflexive candidates, and consent freshness
(RFC 7675) with the timers shortened."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aioice.candidate import Candidate
from rtpgate.media import iceagent
from rtpgate.media.iceagent import IceAgent, Local

LOCAL = "127.0.0.1"


class Side:
    """An agent on its own socket, fed by the event loop."""

    def __init__(self, name: str, controlling: bool, ufrag: str, pwd: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCAL, 0))
        self.sock.setblocking(False)
        self.selected: list[tuple[str, int]] = []
        self.lost = 0
        self.deaf = False
        self.agent = IceAgent(ufrag, pwd, 1, controlling,
                              [Local(self.sock.getsockname(), self.sock.sendto)],
                              on_selected=self.selected.append, on_lost=self._lost,
                              label=name)
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._read)

    def _lost(self) -> None:
        self.lost += 1

    def _read(self) -> None:
        while True:
            try:
                data, source = self.sock.recvfrom(4096)
            except BlockingIOError:
                return
            if not self.deaf:
                self.agent.datagram(None, data, source)  # type: ignore[arg-type]

    def candidate(self) -> Candidate:
        host, port = self.sock.getsockname()
        return Candidate("1", 1, "udp", 2130706431, host, port, "host")

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.agent.close()
        self.sock.close()


@pytest.fixture
async def pair() -> AsyncIterator[Callable[..., tuple[Side, Side]]]:
    made: list[Side] = []

    def make(a_controlling: bool = True, b_controlling: bool = False,
             b_knows_a: bool = True) -> tuple[Side, Side]:
        a = Side("a", a_controlling, "ufA", "passwordofAAAAAAAAAAAAAA")
        b = Side("b", b_controlling, "ufB", "passwordofBBBBBBBBBBBBBB")
        made.extend((a, b))
        a.agent.set_remote("ufB", "passwordofBBBBBBBBBBBBBB", [b.candidate()])
        b.agent.set_remote("ufA", "passwordofAAAAAAAAAAAAAA",
                           [a.candidate()] if b_knows_a else [])
        return a, b

    yield make
    for side in made:
        side.close()


async def until(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_controlling_agent_nominates_and_both_select_the_pair(pair: Any) -> None:
    a, b = pair()
    await until(lambda: a.selected and b.selected)
    assert a.selected[-1] == b.sock.getsockname() and b.selected[-1] == a.sock.getsockname()
    assert a.agent.state == b.agent.state == "completed"
    assert a.agent.selected is not None and a.agent.selected.nominated


async def test_a_role_conflict_ends_with_one_controlling_agent(pair: Any) -> None:
    a, b = pair(a_controlling=True, b_controlling=True)
    await until(lambda: a.selected and b.selected)
    assert a.agent.controlling != b.agent.controlling


async def test_a_check_from_an_unknown_address_is_a_peer_reflexive_candidate(pair: Any) -> None:
    a, b = pair(b_knows_a=False)  # b was told no candidate: it learns a's from a's checks
    await until(lambda: a.selected and b.selected)
    assert any(p.remote == a.sock.getsockname() for p in b.agent.pairs)


async def test_consent_expires_when_the_peer_stops_answering(
        pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iceagent, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(iceagent, "CONSENT_TIMEOUT", 1.0)
    lost = iceagent.STATS.consent_lost
    a, b = pair()
    await until(lambda: a.selected and b.selected)
    await asyncio.sleep(1.5)  # consent checks are answered: nothing is lost
    assert a.lost == 0 and a.agent.state == "completed"
    b.deaf = True
    await until(lambda: a.lost == 1, timeout=5)
    assert a.agent.state == "disconnected" and a.agent.selected is None
    assert iceagent.STATS.consent_lost >= lost + 1  # (b, deaf, loses its consent too)
