"""The serialised call: one dictionary of strings, lists and dictionaries, as bencode (rtpengine's
newest default) or JSON (rtpengine up to 11, and ``--redis-format=JSON``).  Both are read,
whatever is written: the first byte tells them apart, as rtpengine's restore does."""

from __future__ import annotations

import json
from typing import Any

import bencodepy

_DECODER = bencodepy.Bencode(encoding="utf-8", encoding_fallback="value")


class BlobError(ValueError):
    """Not a serialised call."""


def encode(data: dict[str, Any], fmt: str) -> bytes:
    if fmt.lower() == "json":
        return json.dumps(data, separators=(",", ":")).encode()
    return bencodepy.encode(data)


def decode(blob: bytes) -> dict[str, Any]:
    head = blob[:1]
    try:
        if head == b"{":
            value = json.loads(blob)
        elif head == b"d":
            value = _DECODER.decode(blob)
        else:
            raise BlobError("neither bencode nor JSON")
    except BlobError:
        raise
    except Exception as exc:
        raise BlobError(f"undecodable: {exc}") from None
    if not isinstance(value, dict):
        raise BlobError("not a dictionary")
    return value
