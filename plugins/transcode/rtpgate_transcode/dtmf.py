"""DTMF: RFC 4733 telephone-events and the in-band tones they stand for (ITU-T Q.23).

:func:`tone` makes the samples of a digit (both frequencies, each at the event's volume);
:class:`Detector` finds digits in audio with the Goertzel algorithm, written here because it is
eight filters over one frame (FFmpeg has no DTMF decoder): a digit starts after two frames in a
row carry one row and one column frequency well above the rest, and ends after two frames
without it.  :func:`event_payload` and :func:`parse_event` read and write the 4-byte RFC 4733
payload.
"""

from __future__ import annotations

import array
import math
import struct

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
#: RFC 4733 event codes of the DTMF keys.
EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14,
          "D": 15}
DIGITS = {code: key for key, code in EVENTS.items()}


def frequencies(event: int) -> tuple[float, float]:
    key = DIGITS[event]
    for row, keys in enumerate(KEYS):
        if key in keys:
            return ROWS[row], COLS[keys.index(key)]
    raise KeyError(event)


def tone(event: int, start: int, count: int, rate: int, volume: int = 10) -> bytes:
    """``count`` s16 samples of ``event`` from sample ``start`` on; ``volume`` is RFC 4733's
    (dBm0 below zero: each frequency at -volume dBFS, roughly)."""
    low, high = frequencies(event)
    amplitude = 32767 * 10 ** (-max(volume, 3) / 20) / 2
    w1, w2 = 2 * math.pi * low / rate, 2 * math.pi * high / rate
    return array.array("h", (int(amplitude * (math.sin(w1 * n) + math.sin(w2 * n)))
                             for n in range(start, start + count))).tobytes()


def sine(frequency: int, start: int, count: int, rate: int, volume: int) -> bytes:
    """``count`` s16 samples of one ``frequency`` from sample ``start`` on, at ``volume``
    (-dBm0, as ``tone``'s): the single tone ``DTMF-security=tone`` puts where a digit was."""
    amplitude = 32767 * 10 ** (-max(volume, 3) / 20)
    w = 2 * math.pi * frequency / rate
    return array.array("h", (int(amplitude * math.sin(w * n))
                             for n in range(start, start + count))).tobytes()


def event_payload(event: int, end: bool, volume: int, duration: int) -> bytes:
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F),
                       min(duration, 0xFFFF))


def parse_event(payload: bytes) -> tuple[int, bool, int, int]:
    """(event, end, volume, duration) of an RFC 4733 payload."""
    if len(payload) < 4:
        raise ValueError("short telephone-event")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return event, bool(flags & 0x80), flags & 0x3F, duration


class Detector:
    """In-band digits in 8 kHz mono s16 audio, one frame at a time."""

    def __init__(self, rate: int = 8000) -> None:
        self.rate = rate
        self.digit: int | None = None  #: the event being heard
        self.found: int | None = None  #: the digit the last frame carried, if any
        self._candidate: int | None = None
        self._seen = 0
        self._missed = 0

    def feed(self, samples: bytes) -> int | None:
        """The digit heard after this frame (``None``: none)."""
        found = self.found = self._classify(array.array("h", samples))
        if found is not None and found == self.digit:
            self._missed = 0
        elif found is None and self.digit is not None:
            self._missed += 1
            if self._missed >= 2:
                self.digit, self._missed = None, 0
        elif found is not None:
            self._seen = self._seen + 1 if found == self._candidate else 1
            self._candidate = found
            if self._seen >= 2:
                self.digit, self._missed, self._seen = found, 0, 0
        return self.digit

    def _classify(self, x: array.array[int]) -> int | None:
        n = len(x)
        energy = sum(v * v for v in x)
        if n == 0 or energy < n * 100 ** 2:  # below about -50 dBFS
            return None
        rows = [self._power(x, f) for f in ROWS]
        cols = [self._power(x, f) for f in COLS]
        scale = n / 2 * energy
        row, col = max(range(4), key=rows.__getitem__), max(range(4), key=cols.__getitem__)
        if rows[row] / scale < 0.15 or cols[col] / scale < 0.15:
            return None
        if any(p * 4 > rows[row] for i, p in enumerate(rows) if i != row) or any(
                p * 4 > cols[col] for i, p in enumerate(cols) if i != col):
            return None
        return EVENTS[KEYS[row][col]]

    def _power(self, x: array.array[int], freq: float) -> float:
        coeff = 2 * math.cos(2 * math.pi * freq / self.rate)
        s1 = s2 = 0.0
        for v in x:
            s1, s2 = v + coeff * s1 - s2, s1
        return s1 * s1 + s2 * s2 - coeff * s1 * s2
