"""ng payload encoding: bencode (first byte ``d``) or JSON (first byte ``{``).

Both directions are written here (see :class:`_Decoder` and :func:`_bencode` for why):
rtpengine emits keys in insertion order with ``result`` last, and clients (and our conformance
corpus) compare replies byte for byte.  Strings are decoded as
UTF-8 with ``surrogateescape`` so arbitrary bytes (an SDP in Latin-1, say) survive the round trip.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Format = Literal["bencode", "json"]


class DecodeError(Exception):
    """The payload could not be decoded; ``reason`` is rtpengine's error text and ``fmt`` the
    encoding the error reply must use."""

    def __init__(self, reason: str, fmt: Format) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fmt = fmt


#: Keys, values and list items one message may hold unless the caller says otherwise.
MAX_ITEMS = 2048


class TooManyItems(Exception):  # noqa: N818 - raised to stop decoding early
    """The message holds more items than allowed (decoding was stopped there)."""


#: How deeply lists and dictionaries may nest (bencode.py's ``max_depth`` as used before).
MAX_DEPTH = 64


class _Decoder:
    """A bencode decoder with strings as text and a budget of items.

    Written here rather than taken from bencode.py (whose rules it keeps: integers and string
    lengths read with ``int()``, no leading zeros, no ``-0``, lists and dictionaries nested at
    most :data:`MAX_DEPTH` deep) so that it compiles with mypyc (bencode.py's class cannot be
    subclassed by a compiled one) and counts items as it goes: decoding once cost about 3
    microseconds per item, so a message of 100,000 tiny keys held the loop for 0.6 s; it stops
    at the budget."""

    def __init__(self, data: bytes, budget: int) -> None:
        self.data = data
        self.budget = budget

    def _spend(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise TooManyItems()

    def value(self, f: int, depth: int) -> tuple[Any, int]:
        kind = self.data[f:f + 1]
        if kind == b"d":
            self._spend()
            return self.dictionary(f, depth)
        if kind == b"l":
            self._spend()
            return self.items(f, depth)
        if kind == b"i":
            self._spend()
            return self.integer(f)
        if kind and 0x30 <= kind[0] <= 0x39:
            return self.string(f)
        raise ValueError(f"unexpected {kind!r} at {f}")

    def integer(self, f: int) -> tuple[int, int]:
        x = self.data
        f += 1
        end = x.index(b"e", f)
        n = int(x[f:end])
        if x[f:f + 1] == b"-":
            if x[f + 1:f + 2] == b"0":
                raise ValueError("-0")
        elif x[f:f + 1] == b"0" and end != f + 1:
            raise ValueError("leading zero")
        return n, end + 1

    def string(self, f: int) -> tuple[str, int]:
        self._spend()
        x = self.data
        colon = x.index(b":", f)
        n = int(x[f:colon])
        if x[f:f + 1] == b"0" and colon != f + 1:
            raise ValueError("leading zero")
        colon += 1
        return x[colon:colon + n].decode("utf-8", "surrogateescape"), colon + n

    def items(self, f: int, depth: int) -> tuple[list[Any], int]:
        if depth > MAX_DEPTH:
            raise ValueError("nested too deeply")
        x = self.data
        out: list[Any] = []
        f += 1
        while x[f:f + 1] != b"e":
            item, f = self.value(f, depth + 1)
            out.append(item)
        return out, f + 1

    def dictionary(self, f: int, depth: int) -> tuple[dict[str, Any], int]:
        """The dictionary at ``f`` (not counted: :meth:`value` counts nested ones)."""
        if depth > MAX_DEPTH:
            raise ValueError("nested too deeply")
        x = self.data
        out: dict[str, Any] = {}
        f += 1
        while x[f:f + 1] != b"e":
            key, f = self.string(f)
            out[key], f = self.value(f, depth + 1)
        return out, f + 1


def _bencode(value: Any, out: list[bytes]) -> None:
    """Append the bencoding of ``value`` to ``out``.

    Written by hand rather than with bencode.py's encoder: that one sorts dictionary keys
    (rtpengine keeps insertion order, and replies are compared byte for byte) and dispatches every
    value through a table and a deque, which made encoding a quarter of an offer/answer/delete
    cycle's CPU (bench/ng_cycles_profile.py); this is about four times faster.
    """
    kind = type(value)
    if kind is str:
        data = value.encode("utf-8", "surrogateescape")
        out.append(b"%d:%s" % (len(data), data))
    elif kind is int:
        out.append(b"i%de" % value)
    elif kind is dict:
        out.append(b"d")
        for key, item in value.items():
            data = key.encode("utf-8", "surrogateescape")
            out.append(b"%d:%s" % (len(data), data))
            _bencode(item, out)
        out.append(b"e")
    elif kind is list or kind is tuple:
        out.append(b"l")
        for item in value:
            _bencode(item, out)
        out.append(b"e")
    elif kind is bool:
        out.append(b"i1e" if value else b"i0e")
    elif kind is float:
        _bencode(f"{value:.6f}", out)
    elif kind is bytes:
        out.append(b"%d:%s" % (len(value), value))
    elif isinstance(value, dict):
        _bencode(dict(value), out)
    else:
        raise TypeError(f"cannot bencode {kind.__name__}")


def bencode_prefix_length(data: bytes) -> int:
    """Length of the one complete bencode value at the start of ``data``; raises ValueError
    when it is incomplete or malformed (used to frame ng over TCP)."""
    if not data:
        raise ValueError("empty")
    # framing only: the message's own decode applies the budget
    try:
        _, end = _Decoder(data, 1 << 62).value(0, 0)
    except (IndexError, ValueError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc
    return end


def too_many(limit: int) -> str:
    return f"Too many items in message (more than {limit})"


def decode(payload: bytes, max_items: int = MAX_ITEMS) -> tuple[dict[str, Any], Format]:
    """Decode an ng dictionary, checking in rtpengine's order.  Text after a complete bencode
    dictionary is ignored, as rtpengine ignores it.  More than ``max_items`` keys, values and
    list items in all is an error (rtpengine has no such limit; see :class:`_Decoder`)."""
    if not payload:
        raise DecodeError("Invalid data (no payload)", "bencode")
    first = payload[0]
    if first == 0x64:  # 'd'
        try:
            value, _ = _Decoder(payload, max_items).dictionary(0, 0)
        except TooManyItems:
            raise DecodeError(too_many(max_items), "bencode") from None
        except Exception:
            raise DecodeError("Could not decode bencode dictionary", "bencode") from None
        return value, "bencode"
    if first == 0x7B:  # '{'
        budget = [max_items]

        def count(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            budget[0] -= 2 * len(pairs)
            if budget[0] < 0:
                raise TooManyItems()
            return dict(pairs)

        try:
            value = json.loads(payload.decode("utf-8", "surrogateescape"),
                               object_pairs_hook=count)
        except TooManyItems:
            raise DecodeError(too_many(max_items), "json") from None
        except (ValueError, RecursionError):
            raise DecodeError("Failed to parse JSON document", "json") from None
        if not isinstance(value, dict):
            raise DecodeError("Could not decode JSON dictionary", "json")
        return value, "json"
    raise DecodeError("Invalid NG data format", "bencode")


def encode(value: dict[str, Any], fmt: Format) -> bytes:
    if fmt == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogateescape")
    out: list[bytes] = []
    _bencode(value, out)
    return b"".join(out)
