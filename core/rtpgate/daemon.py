"""Detaching into the background without hiding start-up failures.

rtpengine without ``--foreground`` forks and the parent exits; init scripts and
``Type=forking`` units take the parent's exit as "started".  So the parent here does not exit
until the detached child has either started serving (exit 0, pid file written) or failed (the
child's error on the parent's stderr, exit 1).  The two talk over a pipe: the child writes one
line, ``ready`` or ``failed <message>``; a child that dies without a word is a failure too.
"""

from __future__ import annotations

import os
import sys

#: What the parent prints when the child closed the pipe without reporting.
SILENT_DEATH = "the daemon exited during start-up without reporting why"


class StartupReport:
    """The detached child's end of the pipe.  ``None``-safe: in the foreground nothing waits."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def _send(self, line: str) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, line.encode("utf-8", "replace") + b"\n")
        except OSError:
            pass  # the parent is gone (killed): nothing to tell
        finally:
            os.close(self._fd)
            self._fd = None

    def ready(self) -> None:
        self._send("ready")

    def failed(self, message: str) -> None:
        self._send("failed " + " ".join(message.splitlines()))


def _wait_for_child(fd: int) -> int:
    """The parent: read the child's one line and turn it into an exit status."""
    chunks = []
    while data := os.read(fd, 4096):
        chunks.append(data)
    os.close(fd)
    line = b"".join(chunks).decode("utf-8", "replace").strip()
    if line == "ready":
        return 0
    message = line.removeprefix("failed ").strip() if line else SILENT_DEATH
    print(f"rtpgate: cannot start: {message}", file=sys.stderr)
    return 1


def detach() -> StartupReport:
    """Double-fork into a session of its own with stdio on ``/dev/null``.

    Returns in the detached grandchild only; the original process exits with the status the
    grandchild reports through the returned :class:`StartupReport`.
    """
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        sys.stdout.flush()
        os._exit(_wait_for_child(read_fd))
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    return StartupReport(write_fd)
