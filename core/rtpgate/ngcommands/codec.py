"""ng payload encoding: bencode (first byte ``d``) or JSON (first byte ``{``).

Decoding uses bencode.py's decoder.  Encoding is a small function of our own (see
:func:`_bencode` for why): rtpengine emits keys in insertion order with ``result`` last, and
clients (and our conformance corpus) compare replies byte for byte.  Strings are decoded as UTF-8
with ``surrogateescape`` so arbitrary bytes (an SDP in Latin-1, say) survive the round trip.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from bencodepy import BencodeDecoder

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


class _Decoder(BencodeDecoder):
    """bencode.py's decoder with strings as text and a budget of items: decoding costs about
    3 microseconds per item, so a message of 100,000 tiny keys held the loop for 0.6 s; it
    now stops at the budget."""

    def __init__(self) -> None:
        super().__init__(max_depth=64)
        self.budget = MAX_ITEMS
        for kind in (b"i", b"l", b"d"):  # strings count in decode_string, keys included
            self.decode_func[kind] = self._counted(self.decode_func[kind])

    def _counted(self, decode: Any) -> Any:
        def counted(x: bytes, f: int, *args: Any, **kwargs: Any) -> Any:
            self._spend()
            return decode(x, f, *args, **kwargs)
        return counted

    def _spend(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise TooManyItems()

    def decode_string(self, x: bytes, f: int, kind: str = "value", **kwargs: Any
                      ) -> tuple[str, int]:
        self._spend()
        data, end = super().decode_string(x, f, kind, **kwargs)
        return data.decode("utf-8", "surrogateescape"), end


#: Encoded dictionary keys (``b"3:key"``): replies repeat the same few dozen.  Bounded, since
#: some keys are data (the tags under ``tags``).
_KEYS: dict[str, bytes] = {}
_KEYS_MAX = 1024


def _key(key: str) -> bytes:
    data = key.encode("utf-8", "surrogateescape")
    encoded = b"%d:%s" % (len(data), data)
    if len(_KEYS) < _KEYS_MAX:
        _KEYS[key] = encoded
    return encoded


def _bencode(value: Any, out: list[bytes]) -> None:
    """Append the bencoding of ``value`` to ``out``.

    Written by hand rather than with bencode.py's encoder: that one sorts dictionary keys
    (rtpengine keeps insertion order, and replies are compared byte for byte) and dispatches every
    value through a table and a deque, which made encoding a quarter of an offer/answer/delete
    cycle's CPU (bench/ng_cycles_profile.py); this is about four times faster.  Strings and
    integers inside a dictionary or list are written in place rather than by a call each, and
    keys come from :data:`_KEYS`: a delete reply (about 140 values) took 48 µs, now about half.
    """
    kind = type(value)
    if kind is dict:
        append = out.append
        append(b"d")
        for key, item in value.items():
            encoded = _KEYS.get(key) if type(key) is str else None
            append(encoded if encoded is not None else _key(key))
            kind = type(item)
            if kind is str:
                data = item.encode("utf-8", "surrogateescape")
                append(b"%d:%s" % (len(data), data))
            elif kind is int:
                append(b"i%de" % item)
            else:
                _bencode(item, out)
        append(b"e")
    elif kind is str:
        data = value.encode("utf-8", "surrogateescape")
        out.append(b"%d:%s" % (len(data), data))
    elif kind is int:
        out.append(b"i%de" % value)
    elif kind is list or kind is tuple:
        append = out.append
        append(b"l")
        for item in value:
            kind = type(item)
            if kind is str:
                data = item.encode("utf-8", "surrogateescape")
                append(b"%d:%s" % (len(data), data))
            else:
                _bencode(item, out)
        append(b"e")
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


_decoder = _Decoder()


def bencode_prefix_length(data: bytes) -> int:
    """Length of the one complete bencode value at the start of ``data``; raises ValueError
    when it is incomplete or malformed (used to frame ng over TCP)."""
    if not data:
        raise ValueError("empty")
    _decoder.budget = 1 << 62  # framing only: the message's own decode applies the budget
    try:
        _, end = _decoder.decode_func[data[0:1]](data, 0)
    except (IndexError, KeyError, TypeError, ValueError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc
    except Exception as exc:  # bencode.py raises its own error for depth
        raise ValueError(str(exc)) from exc
    return int(end)


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
        _decoder.budget = max_items
        try:
            value, _ = _decoder.decode_dict(payload, 0)
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
