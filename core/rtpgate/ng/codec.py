"""ng payload encoding: bencode (first byte ``d``) or JSON (first byte ``{``).

Decoding uses bencode.py's decoder; encoding uses its encoder with dictionary keys kept in
insertion order, because rtpengine emits keys in insertion order with ``result`` last and
clients (and our conformance corpus) compare replies byte for byte.  Strings are decoded as UTF-8
with ``surrogateescape`` so arbitrary bytes (an SDP in Latin-1, say) survive the round trip.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Literal

from bencodepy import BencodeDecoder, BencodeEncoder

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


class _Encoder(BencodeEncoder):
    """bencode.py sorts dictionary keys; rtpengine keeps insertion order."""

    def __init__(self) -> None:
        super().__init__()
        self.encode_func[str] = self._encode_str
        self.encode_func[float] = self._encode_float

    def _encode_str(self, x: str, r: deque[bytes]) -> None:
        self.encode_bytes(x.encode("utf-8", "surrogateescape"), r)

    def _encode_float(self, x: float, r: deque[bytes]) -> None:
        self._encode_str(f"{x:.6f}", r)

    def encode_dict(self, x: dict[Any, Any], r: deque[bytes]) -> None:
        r.append(b"d")
        for key, value in x.items():
            self.encode_func[type(key)](key, r)
            self.encode_func[type(value)](value, r)
        r.append(b"e")


_decoder = _Decoder()
_encoder = _Encoder()


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
    return _encoder.encode(value)
