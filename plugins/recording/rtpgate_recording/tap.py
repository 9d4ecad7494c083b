"""The relay's side: an ingress stage that copies each packet a recorded or forwarded stream
receives, and the pipeline factory that gives it to exactly those streams.

Streams of calls that are neither recorded nor forwarded get nothing from the factory, so they
stay on the relay's fast path.  The plugin's factory runs first among the plugins'
(``tryfirst``), after core's SRTP and DTLS stages: the copy is the packet as received, decrypted,
before any transcoding, which is where rtpengine records (``dump_packet`` after
``media_packet_decrypt``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rtpgate.api import Pipeline, Stream

from .streams import StreamInfo
from .writer import Writer

if TYPE_CHECKING:
    from .recorder import Recorder


class RecordingTap:
    """An ingress stage (:class:`rtpgate.api.Stage`) that passes every packet on unchanged.

    Its ``rtp`` (and ``rtcp``) is the cheapest callable that does the stream's work: the pcap
    method's recorder, wrapped so that it returns the packet; or a method that queues the
    packet for the writer thread (proc) and forwards it.

    Its ``capture`` is the stream's view of the call's :class:`rtpgate.api.PacketCapture` when
    the stage only records to a pcap (no forwarding) and the relay's native read loop is in
    use: that loop then records the RTP it relays itself, into the same buffer the recorder
    fills, and the stream keeps the native path (``rtpgate.media.pipeline``)."""

    name = "recording"
    error = False
    __slots__ = ("_forward", "_info", "_job", "_queue", "_stats", "_stream", "capture", "rtcp",
                 "rtp")

    def __init__(self, writer: Writer, job: Callable[..., Any] | None, direct: bool,
                 info: StreamInfo | None, stream: Stream,
                 forward: Callable[[bytes], None] | None) -> None:
        self._queue = writer.queue
        self._stats = writer.stats
        self._job = job
        self._info = info
        self._stream = stream
        self._forward = forward
        self.capture = (info.capture if direct and job is not None and forward is None
                        and info is not None else None)
        handle: Callable[[bytes], bytes] = (
            _recording(job, forward) if direct and job is not None else self._queued)
        self.rtp = self.rtcp = handle

    def _queued(self, data: bytes) -> bytes:
        """Queue the packet for the writer thread (at most ``limit`` waiting) and forward
        it."""
        if self._job is not None:
            stats = self._stats
            if len(self._queue) < stats.limit:
                stats.queued += 1
                self._queue.append((self._job, self._info, time.time(), data,
                                    self._stream.endpoint))
            else:
                stats.dropped += 1
        if self._forward is not None:
            self._forward(data)
        return data


def _recording(record: Callable[[bytes], bytes], forward: Callable[[bytes], None] | None
               ) -> Callable[[bytes], bytes]:
    """The pcap method's per-packet recorder (which returns the packet) as the stage's
    function; with forwarding, both."""
    if forward is None:
        return record

    def stage(data: bytes) -> bytes:
        forward(data)
        return record(data)

    return stage


class RecordingFactory:
    """A :class:`rtpgate.api.PipelineFactory` asking the recorder what each stream needs."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        call = stream.media.monologue.call
        if call.recording is None or call.foreign:
            return None
        recorder = self.recorder
        job, info = recorder.packet_job(call, stream)
        forward = recorder.forwarder(call, stream)
        if job is None and forward is None:
            return None
        return Pipeline(ingress=(RecordingTap(recorder.writer, job, recorder.direct, info,
                                              stream, forward),))
