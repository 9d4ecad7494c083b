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


class _Decoder(BencodeDecoder):
    def __init__(self) -> None:
        super().__init__(max_depth=64)

    def decode_string(self, x: bytes, f: int, kind: str = "value", **kwargs: Any
                      ) -> tuple[str, int]:
        data, end = super().decode_string(x, f, kind, **kwargs)
        return data.decode("utf-8", "surrogateescape"), end


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


_decoder = _Decoder()


def bencode_prefix_length(data: bytes) -> int:
    """Length of the one complete bencode value at the start of ``data``; raises ValueError
    when it is incomplete or malformed (used to frame ng over TCP)."""
    if not data:
        raise ValueError("empty")
    try:
        _, end = _decoder.decode_func[data[0:1]](data, 0)
    except (IndexError, KeyError, TypeError, ValueError, RecursionError) as exc:
        raise ValueError(str(exc)) from exc
    except Exception as exc:  # bencode.py raises its own error for depth
        raise ValueError(str(exc)) from exc
    return int(end)


def decode(payload: bytes) -> tuple[dict[str, Any], Format]:
    """Decode an ng dictionary, checking in rtpengine's order.  Text after a complete bencode
    dictionary is ignored, as rtpengine ignores it."""
    if not payload:
        raise DecodeError("Invalid data (no payload)", "bencode")
    first = payload[0]
    if first == 0x64:  # 'd'
        try:
            value, _ = _decoder.decode_dict(payload, 0)
        except Exception:
            raise DecodeError("Could not decode bencode dictionary", "bencode") from None
        return value, "bencode"
    if first == 0x7B:  # '{'
        try:
            value = json.loads(payload.decode("utf-8", "surrogateescape"))
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
