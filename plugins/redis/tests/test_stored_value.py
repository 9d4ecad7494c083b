"""What a write puts into Redis, byte for byte: the bencode the writer makes straight as text
(:mod:`rtpgate_redis.entries`) is what encoding the call's values gives (the plugin's encoder
and bencode.py, the reference), and a known two-party call's value, bencode and JSON, is pinned
to what the plugin wrote before the text path existed (``data/two_party_call.*``, made by the
encoder of main at 62780ae, the dictionary-then-encode one), so that the format cannot change
silently.  A deliberate change of the stored shape writes them again (``placeholders(call,
stored_value(...))`` of the frozen call in :func:`test_a_known_call_is_written_as_before`) and
says why in its commit.

Calls are made in process, through the engine's ng processing, on a fixed port range; the
times in them (creation, last signal, last packet) are set to fixed values, and the local
ports (five digits whatever they are) replaced by placeholders of the same length."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import bencodepy
import pytest
import rtpgate_redis.plugin
from rtpgate import api as c
from rtpgate.testing import make_runtime
from rtpgate_redis import blob
from rtpgate_redis.entries import Entry
from rtpgate_redis.plugin import _store
from rtpgate_redis.shape import serialise, stored_value

DATA = Path(__file__).resolve().parent / "data"
OFFER = ("v=0\r\no=alice 1234567890 1234567890 IN IP4 127.0.0.1\r\ns=Talk\r\n"
         "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\n"
         "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
         "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
         "a=sendrecv\r\n")
ANSWER = ("v=0\r\no=bob 9876543210 9876543210 IN IP4 127.0.0.1\r\ns=Talk\r\n"
          "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\n"
          "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
          "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
#: A WebRTC answer: ICE (credentials, a candidate), DTLS (fingerprint, setup).
WEBRTC_ANSWER = (
    "v=0\r\no=bob 9876543210 9876543210 IN IP4 127.0.0.1\r\ns=Talk\r\n"
    "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 UDP/TLS/RTP/SAVPF 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\na=ice-ufrag:bobU\r\na=ice-pwd:bobpasswordbobpassword12\r\n"
    "a=candidate:1 1 UDP 2130706431 127.0.0.1 7000 typ host\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:active\r\n"
    "a=rtcp-mux\r\na=sendrecv\r\n")
#: Media ports are taken from here: five digits each.
PORT_MIN, PORT_MAX = 51000, 51999


class Engine:
    """An engine in process with the redis plugin's store (its Redis is never spoken to)."""

    def __init__(self) -> None:
        self.runtime = make_runtime(rtpgate_redis.plugin, args=[
            "--config-file=none", "--delete-delay=0", "--interface=127.0.0.1",
            f"--port-min={PORT_MIN}", f"--port-max={PORT_MAX}", "--log-level=3",
            "--redis=127.0.0.1:1/1"])
        store = _store(self.runtime)
        assert store is not None
        self.resumer = store._resumer

    async def ng(self, **message: Any) -> dict[str, Any]:
        reply = await self.runtime.ng.process(c.ng_encode(message, "bencode"),
                                              ("127.0.0.1", 5060), "http")
        decoded: dict[str, Any] = bencodepy.Bencode(encoding="utf-8").decode(reply)
        assert decoded["result"] == "ok", decoded
        return decoded

    def call(self, call_id: str) -> c.Call:
        call = self.runtime.engine.call(call_id)
        assert call is not None
        return call


@pytest.fixture
def engine() -> Iterator[Engine]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    made = Engine()
    try:
        yield made
    finally:
        loop.run_until_complete(made.runtime.engine.stop())
        loop.close()
        asyncio.set_event_loop(None)


def run(coroutine: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coroutine)


def frozen(call: c.Call) -> c.Call:
    """``call`` with its times set to fixed values."""
    call.created = 1796000000.25
    call.last_signal = 1796000001.0
    for ml in call.monologues:
        ml.created = 1796000000.5
    for stream in call.streams():
        stream.last_packet = 1796000002.0
    return call


def placeholders(call: c.Call, value: bytes) -> bytes:
    """``value`` with each local port of ``call`` replaced by ``P`` and its number in the call
    (same length: the length prefixes stay right)."""
    ports = sorted({sock.port for ml in call.monologues for media in ml.medias
                    for em in media.endpoint_maps for run_ in em.sets for sock in run_})
    for n, port in enumerate(ports):
        assert PORT_MIN <= port <= PORT_MAX
        value = value.replace(str(port).encode(), b"P%04d" % n)
    return value


async def _two_party(engine: Engine) -> c.Call:
    await engine.ng(command="offer", **{"call-id": "pinned", "from-tag": "a", "sdp": OFFER})
    await engine.ng(command="answer", **{"call-id": "pinned", "from-tag": "a", "to-tag": "b",
                                         "sdp": ANSWER})
    return engine.call("pinned")


@pytest.mark.parametrize("fmt", ["bencode", "JSON"])
def test_a_known_call_is_written_as_before(engine: Engine, fmt: str) -> None:
    call = frozen(run(_two_party(engine)))
    written = stored_value(call, 1, fmt, engine.resumer)
    pinned = (DATA / f"two_party_call.{fmt.lower()}").read_bytes()
    assert placeholders(call, written) == pinned


async def _variants(engine: Engine) -> AsyncIterator[c.Call]:
    """Calls whose stored values hold each kind of entry: WebRTC (ICE, DTLS), SDES, a media
    label, a DTMF trigger and blocked media, a tag that is not ASCII (the exact encoder)."""
    await engine.ng(command="offer", **{"call-id": "webrtc", "from-tag": "a", "sdp": OFFER,
                                        "transport-protocol": "UDP/TLS/RTP/SAVPF",
                                        "ICE": "force", "label": "caller"})
    yield engine.call("webrtc")
    await engine.ng(command="answer", **{"call-id": "webrtc", "from-tag": "a", "to-tag": "b",
                                         "sdp": WEBRTC_ANSWER, "label": "callee"})
    yield engine.call("webrtc")
    await engine.ng(command="offer", **{"call-id": "sdes", "from-tag": "a", "sdp": OFFER,
                                        "transport-protocol": "RTP/SAVP"})
    yield engine.call("sdes")
    await engine.ng(command="offer", **{"call-id": "control", "from-tag": "a", "sdp": OFFER})
    await engine.ng(command="answer", **{"call-id": "control", "from-tag": "a", "to-tag": "b",
                                         "sdp": ANSWER})
    await engine.ng(command="block media", **{"call-id": "control", "from-tag": "a"})
    await engine.ng(command="block DTMF", **{"call-id": "control", "from-tag": "a",
                                             "trigger": "#1", "trigger-end": "#2"})
    yield engine.call("control")
    await engine.ng(command="offer", **{"call-id": "ascii-not", "from-tag": "äöü", "sdp": OFFER,
                                        "label": "Müller"})
    yield engine.call("ascii-not")


def test_the_text_path_writes_what_encoding_the_values_writes(engine: Engine) -> None:
    async def check() -> set[str]:
        seen: set[str] = set()
        async for call in _variants(engine):
            values = serialise(call, 1, engine.resumer)
            extras = values["rtpgate"]
            seen.add(call.call_id)
            seen.update(key for name, entry in extras.items() if name.startswith("media-")
                        for key, value in entry.items() if value)
            seen.update(key for name, entry in extras.items() if name.startswith("tag-")
                        for key in entry["control"])
            seen.update(key for name, entry in values.items() if name.startswith("tag-")
                        for key in entry)
            written = stored_value(call, 1, "bencode", engine.resumer)
            assert written == blob.bencode(values) == bencodepy.encode(values), call.call_id
            assert blob.decode(written) == values
            assert stored_value(call, 1, "JSON", engine.resumer) == blob.encode(values, "JSON")
        return seen

    seen = run(check())
    assert {"webrtc", "sdes", "control", "ascii-not"} <= seen
    # what the variants are for: every optional and nested entry written at least once
    assert {"label", "ice_ufrag", "remote_ice", "dtls", "sdes_out", "dtmf_trigger"} <= seen, seen


@pytest.mark.parametrize("present", [True, False])
def test_an_entry_made_as_text_is_its_dictionary_encoded(present: bool) -> None:
    """Every kind of key, optional ones given and left out, lists empty and not."""
    entry = Entry("probe", "zeta", "alpha[]", "mid{}", "beta?", "gamma[]?", "delta{}?", "e[]")
    inner = Entry("inner", "b", "a")

    def values(text: bool) -> list[Any]:
        nested = inner.maker(text)("x", "yy")
        return ["z", ["1", "22"], nested, "b" if present else None,
                ["g"] if present else None, nested if present else None, []]

    as_value = entry.maker(text=False)(*values(False))
    (as_text,) = entry.maker(text=True)(*values(True))
    assert as_text.encode() == bencodepy.encode(as_value)
    assert list(as_value) == [key for key in ("zeta", "alpha", "mid", "beta", "gamma", "delta",
                                              "e") if present or key not in ("beta", "gamma",
                                                                             "delta")]
