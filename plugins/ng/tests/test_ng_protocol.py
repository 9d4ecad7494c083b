"""The ng protocol called directly (only core and this plugin installed): framing, the cookie
cache and the dispatcher's error ladder, without any transport."""

from __future__ import annotations

import asyncio

import pytest
import rtpgate_ng.plugin
from rtpgate.api import Message, Rejected, bencode_prefix_length
from rtpgate.testing import get_protocol, make_runtime
from rtpgate_ng.cookie_cache import CookieCache
from rtpgate_ng.framing import split_cookie, tcp_framer
from rtpgate_ng.protocol import NgProtocol


@pytest.fixture
def protocol() -> NgProtocol:
    protocol = get_protocol(make_runtime(rtpgate_ng.plugin), "ng")
    assert isinstance(protocol, NgProtocol)
    return protocol


def call(protocol: NgProtocol, body: bytes, transport: str = "http") -> bytes:
    reply = asyncio.run(protocol.handle(Message(body, transport, peer=("127.0.0.5", 4000))))
    assert reply is not None
    return reply.body


def test_declares_its_addresses(protocol: NgProtocol) -> None:
    assert [(r.method, r.path, r.content_types) for r in protocol.http_routes] == [
        ("POST", "/ng", ("application/x-rtpengine-ng",))]
    assert protocol.ws_subprotocol == "ng.rtpengine.com"
    assert [listener.option for listener in protocol.listeners] == ["listen_ng", "listen_tcp_ng"]


def test_ping_keeps_the_cookie(protocol: NgProtocol) -> None:
    assert call(protocol, b"abc d7:command4:pinge") == b"abc d6:result4:ponge"
    assert call(protocol, b'abd {"command":"ping"}') == b'abd {"result":"pong"}'


@pytest.mark.parametrize("body", [b"d7:command4:pinge", b" d7:command4:pinge", b""])
def test_no_cookie_is_rejected_with_600(protocol: NgProtocol, body: bytes) -> None:
    with pytest.raises(Rejected) as info:
        call(protocol, body)
    assert (info.value.status, info.value.body) == (600, b"error\n")


def test_repeated_cookie_replays_the_first_reply(protocol: NgProtocol) -> None:
    first = call(protocol, b"dup1 d7:command4:pinge")
    again = call(protocol, b"dup1 d7:command10:frobnicatee")  # another body, same cookie
    assert again == first == b"dup1 d6:result4:ponge"
    assert protocol.cache.hits == 1


def test_split_cookie() -> None:
    assert split_cookie(b"c1 payload with spaces") == (b"c1", b"payload with spaces")
    assert split_cookie(b"c1 ") == (b"c1", b"")
    assert split_cookie(b"nospace") is None
    assert split_cookie(b" leading") is None


def test_tcp_framer_cuts_complete_bencode_messages() -> None:
    one = b"t1 d7:command4:pinge"
    two = b"t2 d7:command4:pinge"
    assert tcp_framer(one + two) == ([one, two], len(one) + len(two))
    partial = two[:-3]
    assert tcp_framer(one + partial) == ([one], len(one))
    assert tcp_framer(b't4 {"command":"ping"}') == ([], 0)  # JSON never completes on TCP
    assert tcp_framer(b"no-space-yet") == ([], 0)


def test_bencode_prefix_length() -> None:
    assert bencode_prefix_length(b"d1:ai1eeXYZ") == 8
    with pytest.raises(ValueError):
        bencode_prefix_length(b"d1:ai1e")


def test_cookie_cache_generations_expire() -> None:
    now = [0.0]
    cache = CookieCache(lifetime=30.0, clock=lambda: now[0])
    calls = []

    async def compute() -> bytes:
        calls.append(1)
        return b"reply"

    async def run() -> None:
        await cache.run(b"c", compute)
        now[0] = 45.0  # swapped once: the entry is in the old generation, still served
        assert await cache.run(b"c", compute) == b"reply"
        now[0] = 75.0  # swapped again: gone
        await cache.run(b"c", compute)

    asyncio.run(run())
    assert len(calls) == 2


def test_cookie_cache_is_bounded() -> None:
    cache = CookieCache(lifetime=1000.0, max_entries=10)

    async def fill() -> None:
        for i in range(100):
            async def compute(i: int = i) -> bytes:
                return str(i).encode()
            await cache.run(str(i).encode(), compute)

    asyncio.run(fill())
    assert len(cache) <= 10


def test_cookie_cache_is_bounded_by_bytes_under_unique_cookies() -> None:
    """A sustained flood of unique cookies (every request a new one, as a hostile client
    sends) keeps the cache within its byte budget, overhead included, at any rate."""
    cache = CookieCache(lifetime=1000.0, max_entries=10**9, max_bytes=1_000_000)
    reply = b"x" * 300

    async def fill() -> None:
        for i in range(20_000):
            async def compute() -> bytes:
                return reply
            await cache.run(b"cookie%d" % i, compute)

    asyncio.run(fill())
    per_entry = 300 + len(b"cookie19999") + 160
    assert len(cache) * per_entry <= 1_000_000 + per_entry
    assert len(cache) > 1000  # still caching: the newest replies are kept


def test_concurrent_duplicate_waits_for_the_first() -> None:
    cache = CookieCache()
    runs = []

    async def slow() -> bytes:
        runs.append(1)
        await asyncio.sleep(0.05)
        return b"first"

    async def other() -> bytes:
        runs.append(2)
        return b"second"

    async def run() -> list[bytes]:
        return list(await asyncio.gather(cache.run(b"k", slow), cache.run(b"k", other)))

    assert asyncio.run(run()) == [b"first", b"first"]
    assert runs == [1]


def test_cookie_cache_duplicates_in_flight_share_the_outcome() -> None:
    """Duplicates arriving while the first request runs get its reply (or its failure); the
    first computes once, and nothing stays in flight afterwards."""

    async def scenario() -> None:
        cache = CookieCache()
        runs = []
        release = asyncio.Event()

        async def compute() -> bytes:
            runs.append(1)
            await release.wait()
            return b"reply"

        first = asyncio.ensure_future(cache.run(b"c1", compute))
        await asyncio.sleep(0)
        dups = [asyncio.ensure_future(cache.run(b"c1", compute)) for _ in range(2)]
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(first, *dups) == [b"reply"] * 3
        assert runs == [1] and cache.hits == 2 and not cache._in_flight
        assert await cache.run(b"c1", compute) == b"reply" and cache.hits == 3

        async def fail() -> bytes:
            await asyncio.sleep(0.01)
            raise RuntimeError("broken")

        first = asyncio.ensure_future(cache.run(b"c2", fail))
        await asyncio.sleep(0)
        dup = asyncio.ensure_future(cache.run(b"c2", fail))
        for task in (first, dup):
            with pytest.raises(RuntimeError, match="broken"):
                await task
        assert not cache._in_flight and cache.lookup(b"c2") is None
        alone = asyncio.ensure_future(cache.run(b"c3", fail))  # no duplicate: no future made
        with pytest.raises(RuntimeError, match="broken"):
            await alone
        assert not cache._in_flight

    asyncio.run(scenario())
