"""C's ``strtol``/``strtoul``/``strtod``/``atoi`` as rtpengine's ``set`` commands use them, so the
same input gives the same "no digits found" / "errno=34" answers."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
ULONG_MAX = (1 << 64) - 1
INT_MAX = (1 << 31) - 1

_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)")
_FLOAT = re.compile(r"[ \t\n\v\f\r]*([+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|inf(?:inity)?|nan))", re.IGNORECASE)


@dataclass(frozen=True)
class Parsed:
    """A conversion's value, whether any digits were found, and the ``errno`` it set."""

    value: float
    digits: bool
    errno: int = 0


def strtol(text: str) -> Parsed:
    """``strtol(text, &end, 10)``: clamps to the ``long`` range with ``ERANGE``."""
    match = _INTEGER.match(text)
    if match is None:
        return Parsed(0, False)
    value = int(match.group(1) + match.group(2))
    if value > LONG_MAX:
        return Parsed(LONG_MAX, True, errno.ERANGE)
    if value < LONG_MIN:
        return Parsed(LONG_MIN, True, errno.ERANGE)
    return Parsed(value, True)


def strtoul(text: str) -> Parsed:
    """``strtoul``: a minus sign negates modulo 2**64, as C does."""
    match = _INTEGER.match(text)
    if match is None:
        return Parsed(0, False)
    magnitude = int(match.group(2))
    if magnitude > ULONG_MAX:
        return Parsed(ULONG_MAX, True, errno.ERANGE)
    return Parsed((-magnitude) % (1 << 64) if match.group(1) == "-" else magnitude, True)


def strtod(text: str) -> Parsed:
    match = _FLOAT.match(text)
    if match is None:
        return Parsed(0.0, False)
    value = float(match.group(1))
    if value in (float("inf"), float("-inf")) and "inf" not in match.group(1).lower():
        return Parsed(value, True, errno.ERANGE)
    return Parsed(value, True)


def atoi(text: str) -> int:
    """``atoi``: 0 where there are no digits, truncated to a C ``int``."""
    value = int(strtol(text).value) & 0xFFFFFFFF
    return value - (1 << 32) if value > INT_MAX else value
