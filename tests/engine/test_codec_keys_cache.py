"""A codec's name and manipulation keys come from bounded caches by encoding: the same answers
as computing them, whatever the encoding, after it changes, and once the caches are full."""

from __future__ import annotations

import pytest
from rtpgate.engine import codecs
from rtpgate.engine.codecs import Codec


def _expected(encoding: str) -> tuple[str, tuple[str, ...]]:
    parts = encoding.lower().split("/")
    if not encoding:
        return "", ()
    clock = parts[1] if len(parts) > 1 else ""
    channels = parts[2] if len(parts) > 2 else "1"
    return parts[0], (parts[0], "/".join(parts), f"{parts[0]}/{clock}/{channels}")


@pytest.mark.parametrize("encoding", ["PCMU/8000", "opus/48000/2", "telephone-event/8000",
                                      "G729", "", "X-Odd/1/2/3", "ÉÀ/8000"])
def test_name_and_keys(encoding: str) -> None:
    codec = Codec(96, encoding)
    for _ in range(2):  # computed, then cached
        assert (codec.name, codec.keys()) == _expected(encoding)
    assert codec.matches(encoding.upper()) == bool(encoding)


def test_a_changed_encoding_is_answered_anew() -> None:
    codec = Codec(96, "PCMU/8000")
    assert codec.name == "pcmu" and codec.supplemental is False
    codec.encoding = "telephone-event/8000"
    assert codec.name == "telephone-event" and codec.supplemental is True
    assert codec.keys()[2] == "telephone-event/8000/1"


def test_caches_are_bounded() -> None:
    # (not emptied first: under mypyc the module's globals are not the test's to replace)
    for n in range(codecs.REMEMBERED + 100):  # encodings come from the client's SDP
        codec = Codec(96, f"X{n}/8000")
        assert (codec.name, codec.keys()) == _expected(f"X{n}/8000")
    assert len(codecs._NAMES) == len(codecs._KEYS) == codecs.REMEMBERED
