"""The ng reply encoder (rtpgate.ngcommands.codec.encode) writes what bencode.py writes, in the
reply's own key order: every kind of value, nested, with the encoded-key cache filled and full."""

from __future__ import annotations

from typing import Any

import bencodepy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rtpgate.ngcommands import codec

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["result", "ok", "tags", "", "é", "\udcff"])
leaves = text | st.integers(-2**70, 2**70) | st.booleans() | st.binary(max_size=8)
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=5)
                      | st.tuples(inner, inner) | st.dictionaries(text, inner, max_size=5),
                      max_leaves=30)


def _reference(value: Any) -> bytes:
    """bencode.py's encoding with the keys in insertion order (it sorts them itself)."""
    if isinstance(value, dict):
        return b"d" + b"".join(_reference(k) + _reference(v) for k, v in value.items()) + b"e"
    if isinstance(value, list | tuple):
        return b"l" + b"".join(_reference(v) for v in value) + b"e"
    if isinstance(value, bool):
        return b"i1e" if value else b"i0e"
    if isinstance(value, str):
        return bencodepy.encode(value.encode("utf-8", "surrogateescape"))
    return bencodepy.encode(value)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(text, values, max_size=6))
def test_encoding_is_bencode_in_key_order(reply: dict[str, Any]) -> None:
    assert codec.encode(reply, "bencode") == _reference(reply)


def test_key_cache_is_bounded_and_encodes_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "_KEYS", {})
    for n in range(codec._KEYS_MAX + 50):  # keys that are data (tags) must not grow it forever
        reply = {f"tag-{n}": {"é": n}, "result": "ok"}
        assert codec.encode(reply, "bencode") == _reference(reply)
    assert len(codec._KEYS) == codec._KEYS_MAX
    reply = {"tag-1": 1, f"tag-{codec._KEYS_MAX + 10}": 2}  # one cached key, one not
    assert codec.encode(reply, "bencode") == _reference(reply)


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        codec.encode({"x": object()}, "bencode")
    with pytest.raises(TypeError):
        codec.encode({"x": [object()]}, "bencode")
