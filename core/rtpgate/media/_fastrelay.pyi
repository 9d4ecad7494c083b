"""Types of the C extension (``_fastrelay.c``; :mod:`rtpgate.media.native` uses it)."""

from collections.abc import Callable

BATCH: int

class Reader:
    fd: int
    native_packets: int
    handed_packets: int
    native_copies: int
    routed: bool
    def __init__(self, fd: int, stream: object,
                 recvfrom: Callable[[int], tuple[bytes, tuple[str, int]]]) -> None: ...
    def __call__(self) -> None: ...

class Poller:
    fd: int
    watched: int
    def __init__(self) -> None: ...
    def add(self, reader: Reader) -> None: ...
    def remove(self, fd: int) -> None: ...
    def close(self) -> None: ...
    def __call__(self) -> None: ...
