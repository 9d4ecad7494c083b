"""The ``pcap`` method: one pcap file per call with every packet received on its streams (after
decryption, as rtpengine records), and a metadata file next to it.

The layout is rtpengine's (``daemon/recording.c``): the pcap in ``<recording-dir>/pcaps/``
(or ``recording-file``, or ``recording-path``/``<name>.pcap``), the metadata written to
``<recording-dir>/tmp/rtpengine-meta-<name>.tmp`` while the call runs and moved to
``<recording-dir>/metadata/<name>.txt`` when the recording ends.  ``<name>`` is the
URI-escaped call-id and 16 random hex digits.

The records are built on the event loop (:meth:`PcapSession.record`, one ``struct`` pack and a
copy per packet) into a buffer that is handed to the writer thread every :data:`FLUSH_AT` bytes
and at least every half second (:meth:`PcapSession.hand_over`); the thread only calls
``write``, which releases the GIL.  Building the records on the thread cost about three times
as much in the running server, the two threads taking turns on the GIL
(docs/performance.md).  The other methods run on the writer thread.

When the relay's native read loop is in use, the call's buffer is a
:class:`rtpgate.api.PacketCapture` instead (C, in core): the loop appends the records of the RTP
it relays itself, the recorder those of the packets Python relays (RTCP, a new source...), in
the order they came, and :meth:`PcapSession.hand_over` takes them all at once: every
:data:`FLUSH_AT` bytes (the capture calls it), at least every half second, and before each note
and the close, so nothing captured is lost at the call's end.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections.abc import Callable

from rtpgate.api import MediaEndpoint, Stream, packet_capture

from . import pcap
from .streams import StreamInfo
from .writer import Writer

#: Records are handed to the writer once this many bytes are buffered (and every half second).
FLUSH_AT = 65536
#: A pcap record's header (big-endian, as :func:`pcap.file_header` writes the file).
_RECORD_HEADER = struct.Struct("!IIII")


def _captured(add: Callable[[bytes, str, int], None], stream: Stream
              ) -> Callable[[bytes], bytes]:
    """The recorder of a stream with a capture view (``add``): the record, from the stream's
    endpoint as the relay learned it, is made in C."""

    def record(data: bytes) -> bytes:
        source = stream.endpoint
        if source is None:
            add(data, "0.0.0.0", 0)
        else:
            add(data, source.address, source.port)
        return data

    return record


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))


class PcapSession:
    """One call's pcap recording."""

    def __init__(self, writer: Writer, spool: str, name: str, linktype: int, file: str,
                 path: str, created: float) -> None:
        self.writer = writer
        self.name = name
        self.linktype = linktype
        self.eth = linktype == pcap.LINKTYPE_ETHERNET
        self.created = created
        directory = path or os.path.join(spool, "pcaps")
        self.pcap_path = file or os.path.join(directory, f"{name}.pcap")
        self.meta_tmp = os.path.join(spool, "tmp", f"rtpengine-meta-{name}.tmp")
        self.meta_final = os.path.join(spool, "metadata", f"rtpengine-meta-{name}.txt")
        self._fd: int | None = None
        self._meta: int | None = None
        self._pending = bytearray()  #: records built on the loop, not yet handed over
        self._pending_count = 0
        #: the records' buffer the native read loop fills too (``None``: :attr:`_pending`)
        self._capture = packet_capture(writer.stats.limit, self.eth, FLUSH_AT, self.hand_over)
        self._good = 0  #: bytes of the pcap known to be complete records
        self.packet_num = 1  #: as rtpengine and Wireshark count (the first packet is 1)

    # ------------------------------------------------------------------ event loop

    def recorder(self, info: StreamInfo, stream: Stream) -> Callable[[bytes], bytes]:
        """What records each packet ``stream`` receives, as one closure (the relay's tap
        calls it per packet, so it does everything without further Python calls in the
        common case): the pcap record header (one ``struct`` pack that also copies the
        Ethernet/IP/UDP headers, kept while the source and the packet size stay the same, as
        they do for a codec's packets) and the packet go into the call's buffer.  It returns
        the packet, so it is the tap's stage function itself.  With a capture (native read
        loop), the record is made in C by the stream's view of it (:attr:`StreamInfo.capture`,
        which the tap gives the relay)."""
        if self._capture is not None:
            if info.capture is None:
                info.capture = self._capture.stream(*info.local)
            return _captured(info.capture.add, stream)
        pending = self._pending
        session = self
        clock = time.time
        flush_at = FLUSH_AT
        source: MediaEndpoint | None = None
        size = -1
        captured = 0
        after = b""
        pack = _RECORD_HEADER.pack

        def record(data: bytes) -> bytes:
            nonlocal source, size, captured, after, pack, pending
            if len(data) != size or stream.endpoint is not source:
                source, size = stream.endpoint, len(data)
                headers = info.headers_from(source)
                after = headers(size)
                captured = headers.overhead + size
                pack = struct.Struct(f"{_RECORD_HEADER.format}{len(after)}s").pack
            now = clock()
            seconds = int(now)
            pending += pack(seconds, int((now - seconds) * 1_000_000), captured, captured,
                            after)
            pending += data
            session._pending_count += 1
            if len(pending) >= flush_at:
                session.hand_over()
            return data

        return record

    def hand_over(self) -> None:
        """Queue what is buffered for the writer thread: dropped and counted when more than
        the writer's limit of packets waits already."""
        writer = self.writer
        if self._capture is not None:
            data, count, native, dropped = self._capture.take()
            writer.stats.native += native
            writer.stats.dropped += dropped
        else:
            count = self._pending_count
            data = bytes(self._pending)
            self._pending.clear()
            self._pending_count = 0
        if not count:
            return
        if writer.backlog + count > writer.stats.limit:
            writer.stats.dropped += count
            return
        writer.stats.queued += count
        writer.handed += count
        writer.control(self.write, data, count)

    # ------------------------------------------------------------------ writer thread

    def open(self) -> None:
        try:
            self._meta = os.open(self.meta_tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o664)
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"cannot open metadata file {self.meta_tmp}", exc)
        try:
            self._fd = os.open(self.pcap_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            header = pcap.file_header(self.linktype)
            if os.write(self._fd, header) != len(header):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._good = len(header)
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"cannot write recording file {self.pcap_path}", exc)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            return
        self.note(f"{self.pcap_path}\n\n")

    def write(self, data: bytes, count: int) -> None:
        """Write ``count`` records; on a short write or an error (a full disk) the file is cut
        back to its last whole record, and the packets are counted as errors."""
        self.writer.taken += count
        if self._fd is None:
            self.writer.stats.errors += count
            return
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            self.writer.stats.errors += count
            self.writer.failed(f"writing {self.pcap_path}", exc)
            try:
                os.ftruncate(self._fd, self._good)
                os.lseek(self._fd, self._good, os.SEEK_SET)
            except OSError:
                pass
            return
        self._good += len(data)
        self.writer.stats.written += count
        self.packet_num += count

    def note(self, text: str) -> None:
        """Append to the metadata file."""
        if self._meta is None:
            return
        try:
            os.write(self._meta, text.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"writing {self.meta_tmp}", exc)

    def chunk(self, label: str, content: str = "") -> None:
        """A section of the proc method's metadata: nothing in a pcap recording."""

    def stream(self, info: StreamInfo, details: str) -> None:
        """A new stream: a pcap needs nothing for it."""

    def sdp(self, tag: int, label: str, started: float, mode: str, before: str, after: str
            ) -> None:
        """The SDP rtpgate sent for an offer or answer, with the number of the next
        packet (rtpengine's ``sdp_after_pcap``)."""
        text = f"\nLabel: {label}" if label else ""
        text += (f"\nTimestamp started ms: {started * 1000:.3f}\nSDP mode: {mode}"
                 f"\nSDP before RTP packet: {self.packet_num}\n\n{after}")
        self.note(text)

    def _discard(self) -> None:
        if self._meta is not None:
            os.close(self._meta)
            self._meta = None
        for path in (self.pcap_path, self.meta_tmp):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                self.writer.stats.errors += 1
                self.writer.failed(f"discarding {path}", exc)

    def paused(self, paused: bool, when: float) -> None:
        word = "paused" if paused else "resumed"
        self.note(f"\nRecording {word} at: "
                  f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(when))} "
                  f"({when * 1000:.3f} ms)\n")

    def close(self, metadata: str, ended: float, discard: bool) -> None:
        """The end of the recording: the metadata completed and moved to ``metadata/``; or,
        with ``discard`` (rtpengine's ``rec_pcap_meta_discard_file``), the pcap and the
        metadata file removed."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if discard:
            self._discard()
            return
        if self._meta is None:
            return
        self.note(f"\nTimestamp terminated ms(first monologue): {ended * 1000:.3f}"
                  f"\n\ncall start time: {_stamp(self.created)}\n"
                  f"call end time: {_stamp(ended)}\n")
        if metadata:
            self.note(f"\n\n{metadata}\n")
        os.close(self._meta)
        self._meta = None
        try:
            os.rename(self.meta_tmp, self.meta_final)
        except OSError as exc:
            self.writer.stats.errors += 1
            self.writer.failed(f"moving {self.meta_tmp} to metadata/", exc)
