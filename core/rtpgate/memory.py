"""Giving memory back: the C allocator's settings for a long-running server under bursts.

glibc's malloc raises its mmap threshold each time a large block (an HTTP body, a 16 MiB
WebSocket message, its reply) is freed, up to 32 MiB; from then on such blocks come from the heap,
whose freed middle pages are never returned, so RSS ratchets up with every burst and stays
there (50 -> 192 MB over a 10-minute hostile run).  Fixing the threshold at 128 KiB keeps large
blocks in their own mappings, given back on free, and a fixed trim threshold returns the heap's
free top.  Done with ``mallopt`` through ctypes: there is no library for it, and where the C
library is not glibc nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("rtpgate.memory")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 128 * 1024


def tune_allocator() -> bool:
    """Fix glibc's mmap and trim thresholds; False where that is not possible."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                      THRESHOLD))
    log.debug("malloc thresholds fixed at %d bytes: %s", THRESHOLD, ok)
    return ok
