"""The stored call's two encodings: what is written reads back the same, bencode agrees with
bencode.py (the reference decoder), and anything else is refused with BlobError."""

from __future__ import annotations

from typing import Any

import bencodepy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rtpgate_redis import blob

CALL: dict[str, Any] = {
    "json": {"created": "1796559297219633", "created_from": "127.0.0.1:5060", "tos": "0"},
    "sfd-0": {"localport": "43002", "logical_intf": "dëfault"},
    "stream_sfds-0": ["0", "1"], "branches-0": [], "rtpgate": {"count": 3, "ssrcs": ["1"]},
}


@pytest.mark.parametrize("fmt", ["bencode", "JSON"])
def test_round_trip(fmt: str) -> None:
    assert blob.decode(blob.encode(CALL, fmt)) == CALL


def test_bencode_agrees_with_the_reference() -> None:
    encoded = blob.encode(CALL, "bencode")
    assert encoded == bencodepy.encode(CALL)
    reference = bencodepy.Bencode(encoding="utf-8").decode(encoded)
    assert reference == CALL


@pytest.mark.parametrize("garbage", [b"", b"not a call", b"d3:abc", b"d3:key5:vale",
                                     b"li1ee", b"d4:jsoni1eegarbage", b"d99:x1:ye",
                                     b"{\"json\": ", b"[1, 2]", b"dxe"])
def test_garbage_is_refused(garbage: bytes) -> None:
    with pytest.raises(blob.BlobError):
        blob.decode(garbage)


def test_what_the_fast_decoder_refuses_the_tolerant_one_reads() -> None:
    """rtpengine writes dictionary keys in insertion order, not sorted; a string that is not
    UTF-8 stays bytes."""
    assert blob.decode(b"d4:jsond7:created1:1e3:abc1:xe") == {"json": {"created": "1"},
                                                              "abc": "x"}
    assert blob.decode(b"d3:abc2:\xff\xfee") == {"abc": b"\xff\xfe"}


@pytest.mark.parametrize("data", [
    {"json": {"tag": "ä-ö"}, "x": ["1"]},  # not ASCII: byte lengths differ from str lengths
    {"a": b"\xff\xfe", "b": ["x", b"\xfe"]},  # bytes (a non-UTF-8 string read back)
    {"n": [1, -2, {"k": 0}], "e": [], "d": {}},
])
def test_the_text_encoder_and_the_exact_one_agree(data: dict[str, Any]) -> None:
    encoded = blob.encode(data, "bencode")
    assert encoded == bencodepy.encode(data)
    assert blob.decode(encoded) == data


def test_what_bencode_cannot_hold_is_refused() -> None:
    with pytest.raises(TypeError):
        blob.encode({"a": 1.5}, "bencode")
    with pytest.raises(TypeError):
        blob.encode({"a": True}, "bencode")


_VALUES = st.recursive(
    st.text(max_size=8) | st.integers(-10**6, 10**6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=5),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _VALUES, max_size=6))
def test_any_call_shaped_value_agrees_with_the_reference(data: dict[str, Any]) -> None:
    """Encoded twice (the second time its dictionaries' key layouts are remembered), and once
    more with every dictionary's keys in the reverse order (same keys, another layout)."""
    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: reverse(value[key]) for key in reversed(value)}
        if isinstance(value, list):
            return [reverse(item) for item in value]
        return value

    expected = bencodepy.encode(data)
    assert blob.encode(data, "bencode") == expected
    assert blob.encode(data, "bencode") == expected
    assert blob.encode(reverse(data), "bencode") == expected
