"""The ``proc`` method: the spool rtpengine's recording daemon (``rtpengine-recording``) reads.

rtpengine writes ``<spool>/<name>.meta``, a file of sections (``LABEL\\nLENGTH:\\nCONTENT\\n\\n``,
appended one ``open``/``write``/``close`` at a time so that the daemon's inotify sees each), and
its kernel module gives every recorded stream a file
``/proc/rtpengine/<table>/calls/<name>/<stream>`` from which the daemon ``read()``\\ s one packet
(an IP/UDP header and the RTP packet) per call.  There is no kernel module here: each stream's
file is a FIFO under ``<spool>/rtpengine-proc/<table>/calls/<name>/``, and the daemon sees it at
the path it expects when ``/proc/rtpengine`` leads to ``<spool>/rtpengine-proc`` in its mount
namespace (``tests/test_proc.py`` shows how; a FIFO cannot be put into the real ``/proc``).

A FIFO has no packet boundaries, so a packet is written only once the daemon has read the one
before (``FIONREAD`` on the FIFO is 0): one ``read()`` is then one packet, as from the kernel.
The wait is bounded (:data:`DRAIN_WAIT`); a packet that would have to wait longer, or that
arrives before the daemon opened the stream, is dropped and counted.  Every method but the
constructor runs on the writer thread.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import struct
import termios
import time

from rtpgate.api import MediaEndpoint

from .streams import StreamInfo
from .writer import Writer

#: The spool's subdirectory that stands in for ``/proc/rtpengine``.
PROC_DIR = "rtpengine-proc"
#: How long a packet may wait for the daemon to read the one before it.
DRAIN_WAIT = 0.02
_INT = struct.Struct("i")


class ProcSession:
    """One call's metadata file and stream FIFOs."""

    eth = False

    def __init__(self, writer: Writer, spool: str, name: str, call_id: str, table: int
                 ) -> None:
        self.writer = writer
        self.name = name
        self.call_id = call_id
        self.meta_path = os.path.join(spool, f"{name}.meta")
        self.calls_dir = os.path.join(spool, PROC_DIR, str(table), "calls", name)
        self.streams: list[StreamInfo] = []
        self._opened = False

    # ------------------------------------------------------------------ writer thread

    def open(self) -> None:
        try:
            os.makedirs(self.calls_dir, mode=0o755, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.meta_path)  # start fresh, as rtpengine
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"cannot set up {self.calls_dir}", exc)
            return
        self._opened = True
        self.chunk("CALL-ID", self.call_id)
        self.chunk("PARENT", self.name)

    def chunk(self, label: str, content: str = "") -> None:
        """Append one section (rtpengine's ``append_meta_chunk``)."""
        if not self._opened:
            return
        body = content.encode("utf-8", "surrogateescape")
        data = label.encode() + f"\n{len(body)}:\n".encode() + body + b"\n\n"
        try:
            fd = os.open(self.meta_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)  # the daemon reads on IN_CLOSE_WRITE
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"writing {self.meta_path}", exc)

    def stream(self, info: StreamInfo, details: str) -> None:
        """A new recorded stream: its FIFO, then its sections (the daemon opens the FIFO as it
        reads ``STREAM n interface``)."""
        if not self._opened:
            return
        info.path = os.path.join(self.calls_dir, info.name)
        try:
            os.mkfifo(info.path, 0o644)
        except FileExistsError:
            pass
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"cannot make {info.path}", exc)
            return
        self.streams.append(info)
        self.chunk(f"STREAM {info.number} details", details)
        self.chunk(f"STREAM {info.number} interface", info.name)

    def packet(self, info: StreamInfo, when: float, data: bytes,
               source: MediaEndpoint | None) -> None:
        stats = self.writer.stats
        fd = info.fd
        if fd is None:
            try:
                fd = info.fd = os.open(info.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: the daemon does not read this stream (yet)
                stats.errors += 1
                self.writer.failed("rtpengine-recording does not read the stream", exc)
                return
        deadline = 0.0
        while _INT.unpack(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]:
            now = time.monotonic()
            if not deadline:
                deadline = now + DRAIN_WAIT
            elif now > deadline:
                stats.errors += 1
                self.writer.failed("rtpengine-recording reads too slowly",
                                   f"packet dropped after {DRAIN_WAIT * 1000:.0f} ms")
                return
            time.sleep(0.0005)
        packet = info.headers_from(source)(len(data)) + data
        try:
            os.write(fd, packet)
        except OSError as exc:
            stats.errors += 1
            self.writer.failed("handing a packet to rtpengine-recording", exc)
            if exc.errno in (errno.EPIPE, errno.EBADF):  # the daemon closed the stream
                os.close(fd)
                info.fd = None
            return
        stats.written += 1

    def hand_over(self) -> None:
        """Packets go to the writer one by one: nothing is buffered on the loop."""

    def sdp(self, tag: int, label: str, started: float, mode: str, before: str, after: str
            ) -> None:
        self.chunk(f"SDP from {tag} before {mode}", before)
        self.chunk(f"SDP from {tag} after {mode}", after)

    def paused(self, paused: bool, when: float) -> None:
        """Nothing beyond the ``RECORDING 0|1`` section the recorder writes."""

    def close(self, metadata: str, ended: float, discard: bool) -> None:
        """End of the recording: the streams' FIFOs closed (the daemon sees EOF), the metadata
        file removed (the daemon finishes its output files); with ``discard`` it is first
        renamed to ``<name>.meta.DISCARD``, which tells rtpengine-recording (newer than
        10.5) to delete its output files, as rtpengine's ``finish_proc``."""
        for info in self.streams:
            if info.fd is not None:
                os.close(info.fd)
                info.fd = None
            with contextlib.suppress(OSError):
                os.unlink(info.path)
        self.streams.clear()
        if not self._opened:
            return
        self._opened = False
        meta = self.meta_path
        if discard:
            try:
                os.rename(meta, meta + ".DISCARD")
                meta += ".DISCARD"
            except OSError as exc:
                self.writer.stats.errors += 1
                self.writer.failed(f"renaming {meta} to .DISCARD", exc)
        for path, remove in ((meta, os.unlink), (self.calls_dir, os.rmdir)):
            try:
                remove(path)
            except OSError as exc:
                self.writer.stats.errors += 1
                self.writer.failed(f"removing {path}", exc)
