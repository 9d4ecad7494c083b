"""Log lines that hostile input cannot inflate: client bytes clipped, repeats rate-limited.

A flood of bad requests must not become a flood of log lines: a dictionary with 100,000 unknown
keys once logged 100,000 warnings (9 MB) and stalled every client for almost a second, and the
CLI logged every received line verbatim (148 MB in ten minutes of garbage).  So every log line
that quotes a client shows at most :data:`CLIP` characters of what it sent (:func:`clip`), and a
warning a source can trigger at will goes through a :class:`LogLimiter`: at most one per source
and kind per interval, the next one saying how many were left out.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

#: Characters of client-supplied text a log line shows.
CLIP = 120


def clip(data: str | bytes, limit: int = CLIP) -> str:
    """``data`` as a printable, quoted string of at most about ``limit`` characters, with the
    whole length when it was cut: ``'GET /xxxx...' (70000 bytes)``."""
    size = len(data)
    text = repr(data[:limit])
    if isinstance(data, bytes):
        text = text[1:]  # b'...' -> '...'
    # Escapes count too: 120 undecodable bytes are 480 characters once escaped (\udcff).
    escaped_too_long = len(text) > limit + 2
    if escaped_too_long:
        text = text[:limit + 1]
    if size > limit or escaped_too_long:
        unit = "bytes" if isinstance(data, bytes) else "characters"
        return f"{text}... ({size} {unit})"
    return text


class LogLimiter:
    """At most one log line per ``(source, kind)`` every ``interval`` seconds.

    Remembers at most ``max_keys`` keys (the least recently logged are forgotten first), so a
    flood from many sources costs bounded memory; a forgotten source is simply logged again.
    """

    def __init__(self, interval: float = 60.0, max_keys: int = 4096,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        #: key -> (when last logged, how many were left out since)
        self._seen: OrderedDict[object, tuple[float, int]] = OrderedDict()

    def allow(self, key: object) -> int | None:
        """``None`` when a line for ``key`` must be left out now; otherwise how many were left
        out since the last one (0 for the first)."""
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval:
            self._seen[key] = (seen[0], seen[1] + 1)
            return None
        self._seen[key] = (now, 0)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        return 0 if seen is None else seen[1]

    def log(self, logger: logging.Logger, level: int, key: object, msg: str,
            *args: Any) -> bool:
        """Log ``msg % args`` unless a line for ``key`` was logged within the interval; the
        line says how many were left out before it.  Returns whether it was logged."""
        left_out = self.allow(key)
        if left_out is None:
            return False
        if left_out:
            msg += " (%d similar messages suppressed)"
            args = (*args, left_out)
        logger.log(level, msg, *args)
        return True

    def __len__(self) -> int:
        return len(self._seen)
