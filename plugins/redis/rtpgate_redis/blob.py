"""The serialised call: one dictionary of strings, lists and dictionaries, as bencode (rtpengine's
newest default) or JSON (rtpengine up to 11, and ``--redis-format=JSON``).  Both are read,
whatever is written: the first byte tells them apart, as rtpengine's restore does.

Decoding (the restore's largest cost) uses fastbencode's Rust decoder, ``bdecode_utf8``: 0.105
against 1.2 ms for one stored two-party call (4.6 kB) with the decoder written here.  It is
strict: a dictionary whose keys are not sorted (rtpengine writes its keys in insertion order) or
a string that is not UTF-8 is refused, and such a value is decoded by the tolerant decoder here.

The encoder is written here, for the write path of every call change (which hands it a call
whose entries of fixed keys are their text already: :mod:`.entries`).  bencode.py took about
1.0 ms to encode one stored two-party call (4 kB) on a busy machine; fastbencode's Rust encoder
(``bencode_utf8``, which wants bytes keys) measured no faster than Python here (167-261 against
107-188 us, same process).  :func:`bencode` first builds the text as ``str`` pieces with string
lengths, one piece per key and string value, and encodes it once: when the text is all ASCII
(a call is, unless a tag or label is not) those lengths are the byte lengths bencode wants;
otherwise the exact encoder (:func:`_bencode`, byte lengths) runs instead.  Each dictionary's
keys are sorted, and their text made, once per layout of keys (:data:`_LAYOUTS`).  It handles
only what a stored call holds: strings, integers, lists and dictionaries (bytes: exact encoder).
"""

from __future__ import annotations

import json
from typing import Any

from fastbencode import bdecode_utf8


class BlobError(ValueError):
    """Not a serialised call."""


def encode(data: dict[str, Any], fmt: str) -> bytes:
    if fmt.lower() == "json":
        return json.dumps(data, separators=(",", ":")).encode()
    return bencode(data)


def bencode(data: dict[str, Any]) -> bytes:
    """``data`` in bencode (see the module docstring)."""
    try:
        encoded = bencode_text(data)
    except TypeError:  # bytes, or something bencode has not: the exact encoder decides
        encoded = None
    if encoded is not None:
        return encoded
    out: list[bytes] = []
    _bencode(data, out)
    return b"".join(out)


#: A value's bencode text made already (:mod:`.entries`), in a tuple of one: a stored call's
#: values are never tuples, and a tuple is cheaper to make than a ``str`` subclass (which copies
#: the text).  The text encoder copies it as it is; the exact encoder refuses it.
Encoded = tuple[str]


def text_value(value: Any) -> Encoded:
    """``value``'s bencode text, lengths counted in characters (see :func:`bencode_text`)."""
    pieces: list[str] = []
    _ascii_pieces(value, pieces)
    return ("".join(pieces),)


def bencode_text(data: dict[str, Any]) -> bytes | None:
    """``data`` in bencode when its text is ASCII, else None (lengths were counted in
    characters); ``data`` may hold :data:`Encoded` text, copied as it is.  Raises
    TypeError for what the text encoder does not take (bytes)."""
    pieces: list[str] = []
    _ascii_pieces(data, pieces)
    text = "".join(pieces)
    return text.encode("ascii") if text.isascii() else None


#: A dictionary's keys in the order it holds them -> (its keys sorted, each as bencode text):
#: a stored call's dictionaries have a few shapes, met again on every write, so sorting them
#: and making their keys' text once per shape takes about a quarter off encoding a call.
_LAYOUTS: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
#: More shapes than this (calls of unusual size) are laid out each time, not kept.
_LAYOUTS_KEPT = 1024


def _layout(keys: tuple[str, ...]) -> tuple[list[str], list[str]]:
    for key in keys:
        if type(key) is not str:
            raise TypeError("a dictionary key is not a string")
    order = sorted(keys)  # bencode wants sorted keys
    layout = (order, [f"{len(key)}:{key}" for key in order])
    if len(_LAYOUTS) < _LAYOUTS_KEPT:
        _LAYOUTS[keys] = layout
    return layout


def _ascii_pieces(value: Any, pieces: list[str]) -> None:
    """bencode of ``value`` as text, lengths counted in characters (see :func:`bencode`)."""
    kind = type(value)
    if kind is str:
        pieces.append(f"{len(value)}:{value}")
    elif kind is dict:
        keys = tuple(value)
        order, texts = _LAYOUTS.get(keys) or _layout(keys)
        pieces.append("d")
        for key, text in zip(order, texts, strict=True):
            item = value[key]
            kind = type(item)
            if kind is str:
                pieces.append(f"{text}{len(item)}:{item}")
            elif kind is tuple:  # Encoded
                pieces.append(f"{text}{item[0]}")
            else:
                pieces.append(text)
                _ascii_pieces(item, pieces)
        pieces.append("e")
    elif kind is list:
        pieces.append("l")
        for item in value:
            if type(item) is str:
                pieces.append(f"{len(item)}:{item}")
            else:
                _ascii_pieces(item, pieces)
        pieces.append("e")
    elif kind is tuple:  # Encoded
        pieces.append(value[0])
    elif kind is int:
        pieces.append(f"i{value}e")
    else:
        raise TypeError(f"cannot bencode {kind.__name__} as text")


def _bencode(value: Any, out: list[bytes]) -> None:
    if isinstance(value, str):
        raw = value.encode()
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, dict):
        out.append(b"d")
        for key in sorted(value):  # bencode wants sorted keys
            raw = key.encode()
            out.append(b"%d:" % len(raw))
            out.append(raw)
            _bencode(value[key], out)
        out.append(b"e")
    elif isinstance(value, list):
        out.append(b"l")
        for item in value:
            _bencode(item, out)
        out.append(b"e")
    elif isinstance(value, int) and not isinstance(value, bool):
        out.append(b"i%de" % value)
    elif isinstance(value, bytes):
        out.append(b"%d:" % len(value))
        out.append(value)
    else:  # an Encoded tuple among them: text made for the text encoder, not for this one
        raise TypeError(f"cannot bencode {type(value).__name__}")


def decode(blob: bytes) -> dict[str, Any]:
    head = blob[:1]
    try:
        if head == b"{":
            value = json.loads(blob)
        elif head == b"d":
            value = _fast(blob)
            if value is None:
                value, end = _bdecode(blob, 0)
                if end != len(blob):
                    raise BlobError("data after the dictionary")
        else:
            raise BlobError("neither bencode nor JSON")
    except BlobError:
        raise
    except (ValueError, IndexError, RecursionError) as exc:
        raise BlobError(f"undecodable: {exc}") from None
    if not isinstance(value, dict):
        raise BlobError("not a dictionary")
    return value


def _fast(blob: bytes) -> Any:
    """``blob`` decoded by fastbencode; None when it refuses it (the tolerant decoder then
    decides)."""
    try:
        return bdecode_utf8(blob)
    except (ValueError, TypeError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None


def _bdecode(data: bytes, pos: int) -> tuple[Any, int]:
    """One value from ``pos`` and where it ends (recursive: measured faster here than a loop
    with its own stack)."""
    kind = data[pos]
    if 0x30 <= kind <= 0x39:  # a digit: <length>:<bytes>
        colon = data.index(b":", pos)
        start = colon + 1
        end = start + int(data[pos:colon])
        if end > len(data):
            raise BlobError("string runs past the end")
        raw = data[start:end]
        try:
            return raw.decode(), end
        except UnicodeDecodeError:
            return raw, end
    if kind == 0x64:  # d
        pos += 1
        items: dict[str, Any] = {}
        while data[pos] != 0x65:
            key, pos = _bdecode(data, pos)
            if not isinstance(key, str):
                raise BlobError("a dictionary key is not a string")
            items[key], pos = _bdecode(data, pos)
        return items, pos + 1
    if kind == 0x6C:  # l
        pos += 1
        values: list[Any] = []
        while data[pos] != 0x65:
            value, pos = _bdecode(data, pos)
            values.append(value)
        return values, pos + 1
    if kind == 0x69:  # i
        end = data.index(b"e", pos)
        return int(data[pos + 1:end]), end + 1
    raise BlobError(f"unexpected byte {kind:#x} at {pos}")
