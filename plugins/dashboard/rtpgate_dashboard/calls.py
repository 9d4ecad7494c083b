"""The calls table: one row per call, filtered, sorted and paged on the server, so a browser
gets the fifty rows it shows, not two thousand; and the page of one call, with a packet-rate
history per stream for its sparklines.

Rows are rebuilt once a tick (only while someone is watching) from the engine's call model:
packet rates are the difference of the streams' own counters between two ticks; loss and jitter
are the newest RTCP reception reports the relay kept on each stream.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from rtpgate.api import MEDIA_FLAG_NAMES, STREAM_FLAG_NAMES, flag_names

if TYPE_CHECKING:
    from rtpgate.api import Call, Counters, Media, ReportBlock, Stream
    from rtpgate.api import MediaEndpoint as Endpoint

#: Sortable columns (the page's header names them).
COLUMNS = ("call_id", "labels", "age", "legs", "proxy", "rate", "loss", "jitter")
PAGE_SIZES = (10, 25, 50, 100, 200)
#: Points of a stream's sparkline (seconds).
SPARK = 120
#: Clock rate assumed for jitter when the media's encodings do not say (G.711's).
DEFAULT_CLOCK = 8000


@dataclass(slots=True)
class View:
    """What one client looks at; changed by the messages it sends."""

    offset: int = 0
    limit: int = 25
    sort: str = "age"
    descending: bool = False  #: youngest call first
    filter: str = ""
    call: str | None = None  #: the call whose page is open, if any

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a client's ``{"view": {...}}``; unknown or bad values are ignored."""
        if isinstance(changes.get("offset"), int):
            self.offset = max(0, changes["offset"])
        if changes.get("limit") in PAGE_SIZES:
            self.limit = changes["limit"]
        if changes.get("sort") in COLUMNS:
            self.sort = changes["sort"]
        if isinstance(changes.get("descending"), bool):
            self.descending = changes["descending"]
        if isinstance(changes.get("filter"), str):
            self.filter = changes["filter"][:200]
        if "call" in changes and (changes["call"] is None or isinstance(changes["call"], str)):
            self.call = changes["call"]

    def as_dict(self) -> dict[str, Any]:
        """What :meth:`update` takes: this view as another worker is asked for it."""
        return {"offset": self.offset, "limit": self.limit, "sort": self.sort,
                "descending": self.descending, "filter": self.filter, "call": self.call}


@dataclass(slots=True, eq=False)
class Row:
    """One call's row.  What only signalling changes (labels, the streams, the search text) is
    kept until the call is signalled again; rates, loss and jitter are updated every tick."""

    call: Call
    signal: float  #: ``call.last_signal`` when the row was built
    labels: str
    search: str
    streams: tuple[Stream, ...]
    #: The streams' receive counters and RTCP report tables (read every tick).
    counters: tuple[Counters, ...]
    reports: tuple[dict[int, ReportBlock], ...]
    packets: int = -1  #: packets received on all streams at the last refresh
    rate: int = 0
    loss: float = -1.0  #: worst RTCP fraction lost, percent; -1: no report
    jitter: float = -1.0  #: worst RTCP jitter, ms; -1: no report

    @classmethod
    def of(cls, call: Call) -> Row:
        labels = " ".join(ml.label for ml in call.monologues if ml.label)
        tags = " ".join(ml.tag for ml in call.monologues)
        streams = tuple(s for ml in call.monologues for m in ml.medias for s in m.streams)
        return cls(call, call.last_signal, labels,
                   f"{call.call_id} {labels} {tags} {call.proxy}".lower(), streams,
                   tuple(s.stats_in for s in streams), tuple(s.rtcp_reports for s in streams))


#: Sort keys by column; ``age`` ascending is the youngest call first.
SORT_KEYS: dict[str, Callable[[Row], Any]] = {
    "call_id": lambda r: r.call.call_id,
    "labels": attrgetter("labels"),
    "age": lambda r: -r.call.created,
    "legs": lambda r: len(r.call.monologues),
    "proxy": lambda r: r.call.proxy,
    "rate": attrgetter("rate"),
    "loss": attrgetter("loss"),
    "jitter": attrgetter("jitter"),
}


def _endpoint(endpoint: Endpoint | None) -> str | None:
    if endpoint is None:
        return None
    host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
    return f"{host}:{endpoint.port}"


def _local(stream: Stream) -> str | None:
    selected = stream.selected
    if selected is None:
        return None
    address = selected.local.address
    return f"[{address}]:{selected.port}" if ":" in address else f"{address}:{selected.port}"


def _clock_rate(media: Media) -> int:
    for encoding in media.encodings.values():
        rate = encoding.split("/")[1] if "/" in encoding else ""
        if rate.isdigit() and not encoding.lower().startswith("telephone-event"):
            return int(rate)
    return DEFAULT_CLOCK


def _dtls(media: Media | None) -> str | None:
    """The relay's DTLS handshake state with this party (``new``, ``connecting``, ``connected``,
    ``failed``); ``None`` when the media is not DTLS-SRTP."""
    return media.dtls.state if media is not None and media.dtls is not None else None


def _worst_reports(streams: Iterable[Stream]) -> tuple[float, float]:
    """(worst fraction lost in percent, worst jitter in ms) over the streams' RTCP reports."""
    loss = jitter = -1.0
    for stream in streams:
        if not stream.rtcp_reports:
            continue
        clock = _clock_rate(stream.media)
        for report in stream.rtcp_reports.values():
            loss = max(loss, report.fraction_lost * 100)
            jitter = max(jitter, report.jitter * 1000 / clock)
    return loss, jitter


class CallsTable:
    """Rows of every current call, rebuilt by :meth:`refresh`."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self._by_id: dict[str, Row] = {}
        #: Per watched call: per stream (by position), the packet rates of the last ticks.
        self._sparks: dict[str, dict[tuple[int, int, int], deque[int]]] = {}
        self._stream_packets: dict[int, int] = {}
        self.refreshed = 0.0

    def refresh(self, calls: Iterable[Call], watched: set[str]) -> None:
        """Update the rows (one tick): rates since the previous refresh."""
        now = time.monotonic()
        elapsed = max(now - self.refreshed, 1e-3) if self.refreshed else 1.0
        self.refreshed = now
        previous, rows = self._by_id, {}
        for call in calls:
            row = previous.get(call.call_id)
            if row is None or row.call is not call or row.signal != call.last_signal:
                packets = row.packets if row is not None and row.call is call else -1
                row = Row.of(call)
                row.packets = packets
            total = 0
            for counters in row.counters:
                total += counters.packets
            before = row.packets
            row.rate = round((total - before) / elapsed) if 0 <= before <= total else 0
            row.packets = total
            if any(row.reports):
                row.loss, row.jitter = _worst_reports(row.streams)
            rows[call.call_id] = row
        self._by_id = rows
        self.rows = list(rows.values())
        self._refresh_sparks(watched, elapsed)

    def _refresh_sparks(self, watched: set[str], elapsed: float) -> None:
        for call_id in list(self._sparks):
            if call_id not in watched:
                del self._sparks[call_id]
        counts: dict[int, int] = {}
        for call_id in watched:
            row = self._by_id.get(call_id)
            if row is None:
                continue
            call = row.call
            sparks = self._sparks.setdefault(call.call_id, {})
            for key, stream in _positions(call):
                before = self._stream_packets.get(id(stream))
                counts[id(stream)] = stream.stats_in.packets
                rate = 0 if before is None else max(0, round((stream.stats_in.packets - before)
                                                             / elapsed))
                sparks.setdefault(key, deque(maxlen=SPARK)).append(rate)
        self._stream_packets = counts

    def watches(self, call_id: str) -> bool:
        """Whether ``call_id``'s streams already have sparkline history."""
        return call_id in self._sparks

    # ------------------------------------------------------------------ views

    def _matching(self, view: View) -> list[Row]:
        """The rows ``view``'s filter matches, in its order."""
        needle = view.filter.strip().lower()
        rows = [r for r in self.rows if needle in r.search] if needle else list(self.rows)
        rows.sort(key=SORT_KEYS[view.sort], reverse=view.descending)
        return rows

    def page(self, view: View) -> dict[str, Any]:
        """The rows ``view`` shows, with the number that matched its filter."""
        now = time.time()
        rows = self._matching(view)
        offset = min(view.offset, max(0, (len(rows) - 1) // view.limit * view.limit))
        shown = rows[offset:offset + view.limit]
        return {"total": len(self.rows), "matched": len(rows), "offset": offset,
                "limit": view.limit, "sort": view.sort, "descending": view.descending,
                "filter": view.filter, "rows": [self._row(r, now) for r in shown]}

    def head(self, view: View) -> dict[str, Any]:
        """This worker's part of ``view``'s page when several workers serve it: the first
        ``offset + limit`` rows it matches (all a page of the merged table can take from it),
        with its counts (:func:`.merge.page` puts the parts together)."""
        now = time.time()
        rows = self._matching(view)
        return {"total": len(self.rows), "matched": len(rows),
                "rows": [self._row(r, now) for r in rows[:view.offset + view.limit]]}

    def _row(self, row: Row, now: float) -> dict[str, Any]:
        call = row.call
        legs = []
        for ml in call.monologues:
            media = ml.medias[0] if ml.medias else None
            stream = media.streams[0] if media and media.streams else None
            legs.append({
                "tag": ml.tag, "label": ml.label,
                "protocols": sorted({m.protocol or m.protocol_str for m in ml.medias} - {""}),
                "ice": media.ice_state if media else None,
                "dtls": _dtls(media),
                "endpoint": _endpoint(stream.endpoint) if stream else None,
                "local": _local(stream) if stream else None,
            })
        return {"call_id": call.call_id, "labels": row.labels, "age": round(now - call.created),
                "created": call.created,
                "proxy": call.proxy, "legs": legs, "rate": row.rate,
                "loss": None if row.loss < 0 else round(row.loss, 1),
                "jitter": None if row.jitter < 0 else round(row.jitter, 1),
                "deleting": call.deletion_mark}

    def detail(self, call: Call | None, call_id: str) -> dict[str, Any]:
        """One call's page: every leg, media and stream with its counters and sparkline."""
        if call is None:
            return {"call_id": call_id, "gone": True}
        now = time.time()
        sparks = self._sparks.get(call_id, {})
        legs = []
        for ml in call.monologues:
            medias = []
            for media in ml.medias:
                clock = _clock_rate(media)
                streams = []
                for stream in media.streams:
                    key = (ml.unique_id, media.index, stream.component)
                    spark = list(sparks.get(key, ()))
                    streams.append({
                        "component": stream.component, "rtcp": stream.is_rtcp,
                        "local": _local(stream), "endpoint": _endpoint(stream.endpoint),
                        "advertised": _endpoint(stream.advertised),
                        "flags": flag_names(stream.flags, STREAM_FLAG_NAMES),
                        "in": _counters(stream.stats_in), "out": _counters(stream.stats_out),
                        "rate": spark[-1] if spark else 0, "spark": spark,
                        "ssrcs": [f"{s:08x}" for s in stream.ssrcs],
                        "reports": [{"ssrc": f"{r.ssrc:08x}",
                                     "loss": round(r.fraction_lost * 100, 1),
                                     "cumulative": r.cumulative_lost,
                                     "jitter": round(r.jitter * 1000 / clock, 1),
                                     "age": round(now - r.received)}
                                    for r in stream.rtcp_reports.values()],
                    })
                medias.append({"index": media.index, "type": media.type,
                               "protocol": media.protocol or media.protocol_str,
                               "flags": flag_names(media.flags, MEDIA_FLAG_NAMES),
                               "codecs": [media.encodings.get(pt, str(pt))
                                          for pt in media.payload_types],
                               "ice": media.ice_state, "dtls": _dtls(media),
                               "dtls_suite": media.dtls.suite if media.dtls else None,
                               "dtls_failure": media.dtls.failure if media.dtls else None,
                               "streams": streams})
            legs.append({"tag": ml.tag, "label": ml.label, "age": round(now - ml.created),
                         "deleted": ml.deleted, "kind": ml.kind,
                         "subscribed_to": [source.tag for source in ml.sources],
                         "medias": medias})
        return {"call_id": call.call_id, "gone": False, "age": round(now - call.created),
                "proxy": call.proxy, "deleting": call.deletion_mark, "legs": legs}


def _positions(call: Call) -> Iterable[tuple[tuple[int, int, int], Stream]]:
    for ml in call.monologues:
        for media in ml.medias:
            for stream in media.streams:
                yield (ml.unique_id, media.index, stream.component), stream


def _counters(counters: Any) -> dict[str, int]:
    return {"packets": counters.packets, "bytes": counters.bytes, "errors": counters.errors}
