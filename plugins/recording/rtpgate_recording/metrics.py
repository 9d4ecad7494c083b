"""``recording_*`` families on ``/metrics`` (the rtpgate-metrics plugin calls this when it is
installed; it brings prometheus-client, which this plugin does not need otherwise).

rtpengine has no recording counters of its own beyond its per-command ones (``start
recording`` & co. in ``rtpengine_requests_total``, which rtpgate has as well): these are
rtpgate's, what its writer did, so that a full disk or a slow recording daemon shows while
the server runs and not only in the log line at shutdown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .recorder import Recorder

#: Family (without ``_total``), the writer's counter, and its help text.
COUNTERS = (
    ("recording_packets_written", "written",
     "Packets written to recordings (pcap records, or packets handed to rtpengine-recording)"),
    ("recording_packets_dropped", "dropped",
     "Packets not recorded because more than --recording-queue were waiting"),
    ("recording_errors", "errors",
     "Packets lost to failed writes (a full disk, a missing directory, a daemon not reading) "
     "and failed file operations"),
    ("recording_packets_native", "native",
     "Packets the relay's native read loop recorded itself (pcap), without the recording tap"),
    ("recording_forwarded_packets", "forwarded", "Packets sent to --forward-to"),
    ("recording_forwarding_errors", "forward_errors",
     "Packets the --forward-to socket refused"),
)


class RecordingCollector:
    """Reads the running server's recorder at each scrape."""

    def __init__(self, recorder: Callable[[], Recorder | None]) -> None:
        self.recorder = recorder

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        recorder = self.recorder()
        if recorder is None:
            return
        stats = recorder.writer.stats
        yield GaugeMetricFamily("recording_calls", "Calls being recorded or forwarded now",
                                value=len(recorder.sessions))
        writer = recorder.writer
        # pcap: packets in the buffers handed over; proc: the packets queued one by one
        waiting = writer.backlog if recorder.direct else len(writer.queue)
        yield GaugeMetricFamily("recording_backlog", "Packets waiting for the writer thread",
                                value=waiting)
        for name, field, text in COUNTERS:
            yield CounterMetricFamily(name, text, value=getattr(stats, field))
