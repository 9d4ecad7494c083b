"""The metric list: every statistic rtpgate reports, in one ordered list, like rtpengine's
``statistics_gather_metrics``.  Three views are rendered from it, so they always agree:

* the ng ``statistics`` command and the CLI's ``list jsonstats``: the nesting given by the
  structural entries (``{``, ``}``, ``[``, ``]`` and the key that precedes an opening one);
* the CLI's ``list totals``: every entry with a description (:func:`totals_text`);
Values are read from :attr:`rtpgate.runtime.Runtime.stats` (counters) and the engine (what is
current: sessions, streams, port pools); nothing is counted here.  Prometheus names are not
core's: a metrics plugin builds its families from the same counters.

What is kept and what is left out (``docs/metrics.md`` has the table):

* The ng/CLI keys and lines of rtpengine 10.5 stay, with their zero, where clients parse a fixed
  structure: ``*_kernel``, ``transcodedmedia``, the ``mos`` block, ``transcoders: []``.
* Blocks of rtpengine that describe features rtpgate lacks are left out everywhere, as the
  newest rtpengine does when the feature is off: ``intervalstatistics`` (graphite only),
  ``voip_metrics``, the media/player caches, poller threads, buffer pools.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .ngcommands.command import NgCommand, NgContext, Reply
from .ngcommands.models import NgRequest

if TYPE_CHECKING:
    from .counters import Stats, Traffic
    from .engine.engine import EngineStatistics
    from .runtime import Runtime

#: rtpengine's ng commands in its order (``NG_COMMANDS``): lower-case short name -> the short
#: name as the CLI's control table heads its column.  Counted commands are listed in this
#: order; a command rtpengine does not know follows, in registration order, headed by its
#: short name.
CONTROL_COLUMNS: dict[str, str] = {short.lower(): short for short in (
    "Ping", "Offer", "Answer", "Delete", "Query", "List", "StartRec", "StopRec", "PauseRec",
    "StartFwd", "StopFwd", "BlkDTMF", "UnblkDTMF", "BlkMedia", "UnblkMedia", "PlayMedia",
    "StopMedia", "PlayDTMF", "Stats", "SlnMedia", "UnslnMedia", "Pub", "SubReq", "SubAns",
    "Unsub", "InjStart", "InjStop", "Conn", "CLI", "Trnsfm", "Create", "CrtAnsw", "Mesh")}

#: The 24 commands rtpengine 10.5 counts: the ng ``statistics`` reply and the CLI's control
#: table always have their keys and columns (scripts parse that fixed layout), with 0 for a
#: command rtpgate does not have.  ``/metrics`` has series for registered commands only.
LISTED_COMMANDS = ("ping", "offer", "answer", "delete", "query", "list", "startrec",
                   "stoprec", "startfwd", "stopfwd", "blkdtmf", "unblkdtmf", "blkmedia",
                   "unblkmedia", "playmedia", "stopmedia", "playdtmf", "stats", "slnmedia",
                   "unslnmedia", "pub", "subreq", "subans", "unsub")

@dataclass(frozen=True, slots=True)
class Metric:
    """One entry of the list.

    ``key`` is the ng/JSON key; ``{``, ``}``, ``[`` and ``]`` open and close a dictionary or a
    list, and a key with no value names the dictionary or list that the next entry opens.
    ``descr`` is the ``list totals`` text: with ``long`` it prints `` %-48s:%s``, with an empty
    description just ``long``, without ``long`` the description alone (``""``: a blank line);
    ``None`` keeps the entry out of ``list totals``.  ``short`` is the value as rtpengine's short
    format prints it (``%.6f`` for seconds); ``value`` is typed: an ``int`` is an integer in ng
    replies, everything else is sent as the string ``short``.
    """

    key: str | None = None
    descr: str | None = None
    short: str | None = None
    long: str | None = None
    value: int | float | str | None = None
    #: A text value (a name, an address): quoted in ``list jsonstats``, where numbers are bare.
    text: bool = False

    @property
    def is_structure(self) -> bool:
        return self.key in ("{", "}", "[", "]")


# ---------------------------------------------------------------------------- entry builders

def _open(key: str, descr: str | None = None, brace: bool = True,
          bracket_descr: str | None = None) -> Iterator[Metric]:
    """A dictionary (``brace``) or list named ``key``; the descriptions are the ``list totals``
    lines of the name and of the bracket."""
    yield Metric(key, descr)
    yield Metric("{" if brace else "[", bracket_descr)


def _close(descr: str | None = None, brace: bool = True) -> Metric:
    return Metric("}" if brace else "]", descr)


def _int(key: str, descr: str | None, value: int) -> Metric:
    return Metric(key, descr, str(value), str(value) if descr is not None else None, value)


def _seconds(key: str, descr: str, value: float, unit: str = "seconds") -> Metric:
    """A ``%.6f`` value: a string in ng replies, as rtpengine sends it."""
    return Metric(key, descr, f"{value:.6f}", f"{value:.6f} {unit}", value)


def _text(key: str, value: str) -> Metric:
    return Metric(key, None, value, None, value, text=True)


# ---------------------------------------------------------------------------- the list

def gather(runtime: Runtime) -> list[Metric]:
    """The metric list as of now."""
    stats = runtime.stats
    rate = stats.rates.read(stats.relayed) if stats.measures_media else None
    return metric_list(stats, runtime.engine.statistics(), runtime.ng.commands, rate)


def metric_list(stats: Stats, engine: EngineStatistics, commands: Iterable[NgCommand],
                rate: Traffic | None) -> list[Metric]:
    """The metric list of these counters and current values (``rate``: the relay's rate per
    second, when it measures one); several workers' merged ones too
    (:mod:`rtpgate.workers.totals`)."""
    media = stats.measures_media
    out: list[Metric] = [Metric("{", "")]
    out += _current(stats, engine, media, rate)
    out += _totals(stats, media)
    out += _mos()
    out += _control(stats, commands)
    out += _interfaces(stats, engine, media)
    out += [*_open("transcoders", brace=False, bracket_descr=""), _close("", brace=False),
            _close()]
    return out


def _current(stats: Stats, engine: EngineStatistics, media: bool, rate: Traffic | None
             ) -> Iterator[Metric]:
    yield from _open("currentstatistics", "Statistics over currently running sessions:",
                     bracket_descr="")
    own, foreign = engine.own, engine.foreign
    yield _int("sessionsown", "Owned sessions", own)
    yield _int("sessionsforeign", "Foreign sessions", foreign)
    yield _int("sessionstotal", "Total sessions", own + foreign)
    yield _int("transcodedmedia", "Transcoded media", 0)
    for kind, where in (("user", "userspace"), ("kernel", "kernel"), ("", "total")):
        suffix = f"_{kind}" if kind else ""
        measured = rate if kind != "kernel" else None
        yield _int(f"packetrate{suffix}", f"Packets per second ({where})",
                   measured.packets if measured else 0)
        yield _int(f"byterate{suffix}", f"Bytes per second ({where})",
                   measured.bytes if measured else 0)
        yield _int(f"errorrate{suffix}", f"Errors per second ({where})",
                   measured.errors if measured else 0)
    yield _int("media_userspace", "Userspace-only media streams", engine.media_streams)
    yield _int("media_kernel", "Kernel-only media streams", 0)
    yield _int("media_mixed", "Mixed kernel/userspace media streams", 0)
    yield _close("")


def _totals(stats: Stats, media: bool) -> Iterator[Metric]:
    totals = stats.totals
    yield from _open("totalstatistics",
                     "Total statistics (does not include current running sessions):",
                     bracket_descr="")
    uptime = int(time.time() - stats.started)
    # rtpengine formats uptime "%llu" short but "%llu seconds" long: not an ng integer
    yield Metric("uptime", "Uptime of rtpengine", str(uptime), f"{uptime} seconds", str(uptime))
    yield _int("managedsessions", "Total managed sessions", totals.managed_sessions)
    for key, descr, reason in (
            ("rejectedsessions", "Total rejected sessions", "rejected"),
            ("timeoutsessions", "Total timed-out sessions via TIMEOUT", "timeout"),
            ("silenttimeoutsessions", "Total timed-out sessions via SILENT_TIMEOUT",
             "silent_timeout"),
            ("finaltimeoutsessions", "Total timed-out sessions via FINAL_TIMEOUT",
             "final_timeout"),
            ("offertimeoutsessions", "Total timed-out sessions via OFFER_TIMEOUT",
             "offer_timeout"),
            ("regularterminatedsessions", "Total regular terminated sessions", "terminated"),
            ("forcedterminatedsessions", "Total forced terminated sessions",
             "force_terminated")):
        yield _int(key, descr, totals.closed[reason])
    yield from _relayed(stats.relayed)
    yield _int("zerowaystreams", "Total number of streams with no relayed packets",
               totals.zero_way_streams)
    yield _int("onewaystreams", "Total number of 1-way streams", totals.one_way_streams)
    count = totals.managed_sessions
    average = totals.call_duration / count if count else 0.0
    variance = abs(totals.call_duration2 / count - average * average) if count else 0.0
    yield _seconds("avgcallduration", "Average call duration", average)
    yield _seconds("totalcallsduration", "Total calls duration", totals.call_duration)
    yield _seconds("totalcallsduration2", "Total calls duration squared",
                   totals.call_duration2, "seconds squared")
    yield _seconds("totalcallsduration_stddev", "Total calls duration standard deviation",
                   math.sqrt(variance))
    yield Metric(None, "")
    yield _close("")


def _relayed(relayed: Traffic) -> Iterator[Metric]:
    names = (("packets", "relayedpackets", "Total relayed packets"),
             ("errors", "relayedpacketerrors", "Total relayed packet errors"),
             ("bytes", "relayedbytes", "Total relayed bytes"))
    for field, key, descr in names:
        yield _int(f"{key}_user", f"{descr} (userspace)", getattr(relayed, field))
    for _field, key, descr in names:
        yield _int(f"{key}_kernel", f"{descr} (kernel)", 0)
    for field, key, descr in names:
        yield _int(key, descr, getattr(relayed, field))


def _mos() -> Iterator[Metric]:
    """rtpengine 10.5's MOS block: rtpgate takes no MOS samples, so every value is zero."""
    yield from _open("mos", "MOS statistics:", bracket_descr="")
    yield Metric("mos_total", "Sum of all MOS values sampled", "0.000000", "0.000000", 0.0)
    yield Metric("mos2_total", "Sum of all MOS square values sampled", "0.000000", "0.000000",
                 0.0)
    yield _int("mos_samples_total", "Total number of MOS samples", 0)
    yield Metric("mos_average", "Average MOS", "0.000000", "0.000000", 0.0)
    yield Metric("mos_stddev", "MOS standard deviation", "0.000000", "0.000000", 0.0)
    yield Metric(None, "")
    yield _close("")


def control_columns(commands: Iterable[NgCommand]) -> list[tuple[str, NgCommand | None]]:
    """The control statistics' columns in rtpengine's order: ``(short name, the registered
    counted command or None)`` for :data:`LISTED_COMMANDS` and every other counted command."""
    order = list(CONTROL_COLUMNS)
    counted = {c.short: c for c in commands if c.counted}
    shorts = [*LISTED_COMMANDS, *(s for s in counted if s not in LISTED_COMMANDS)]
    shorts.sort(key=lambda s: order.index(s) if s in order else len(order))
    return [(short, counted.get(short)) for short in shorts]


def _control(stats: Stats, commands: Iterable[NgCommand]) -> Iterator[Metric]:
    columns = control_columns(commands)
    yield from _open("controlstatistics", "Control statistics:", bracket_descr="")
    yield from _open("proxies", brace=False)
    header = f" {'Proxy':>20} " + "".join(f"| {CONTROL_COLUMNS.get(short, short):>10} "
                                          for short, _ in columns)
    yield Metric(None, header)
    totals = dict.fromkeys((short for short, _ in columns), 0)
    for proxy, counted in stats.control.proxies.items():
        yield Metric("{")
        yield _text("proxy", proxy)
        row = f" {proxy:>20} "
        for short, _command in columns:
            count = counted.counts.get(short, 0)
            seconds = counted.seconds.get(short, 0.0)
            totals[short] += count
            row += f"| {count:>10} "
            yield _int(f"{short}count", None, count)
            yield Metric(f"{short}duration", None, f"{seconds:.6f}", None, seconds)
        yield Metric(None, "", None, row)
        yield _int("errorcount", None, counted.errors)
        yield _close()
    yield _close("", brace=False)
    for short, count in totals.items():
        yield _int(f"total{short}count", None, count)
    yield _close("")


def _interfaces(stats: Stats, engine: EngineStatistics, media: bool) -> Iterator[Metric]:
    yield from _open("interfaces", brace=False)
    for pool in engine.interfaces:
        total = pool.max - pool.min + 1
        yield Metric("{")
        yield _text("name", pool.name)
        yield _text("address", pool.address)
        yield from _open("ports")
        yield _int("min", None, pool.min)
        yield _int("max", None, pool.max)
        yield _int("used", None, pool.used)
        pct = pool.used * 100.0 / total if total else 0.0
        yield Metric("used_pct", None, f"{pct:.2f}", None, f"{pct:.2f}")
        yield _int("free", None, pool.free)
        yield _int("totals", None, total)
        yield _int("last", None, pool.last)
        yield _close()
        if media:
            traffic = stats.interface(pool.name, pool.address)
            for direction, counters in (("ingress", traffic.ingress),
                                        ("egress", traffic.egress)):
                yield from _open(direction)
                for field in ("packets", "bytes", "errors"):
                    yield _int(field, None, getattr(counters, field))
                yield _close()
        yield _close()
    yield _close(brace=False)


# ---------------------------------------------------------------------------- views

def nested(metrics: Iterable[Metric], raw: bool = False) -> dict[str, Any]:
    """The nesting of the list as Python values: ng ``statistics`` types (``int`` for integer
    metrics, strings for everything else), or with ``raw`` each value as :class:`RawValue` for
    :func:`json_text`."""
    root: dict[str, Any] = {}
    stack: list[dict[str, Any] | list[Any]] = []
    current: dict[str, Any] | list[Any] | None = None
    label: str | None = None
    for metric in metrics:
        if metric.key is None:
            continue
        if metric.short is not None:
            value: Any = metric.value if isinstance(metric.value, int) else metric.short
            if raw:
                value = RawValue(metric)
            assert isinstance(current, dict)
            current[metric.key] = value
        elif metric.key in ("}", "]"):
            current = stack.pop() if stack else None
        elif metric.key in ("{", "["):
            sub: dict[str, Any] | list[Any] = {} if metric.key == "{" else []
            if current is None:
                assert isinstance(sub, dict)
                root = sub
            elif isinstance(current, dict):
                assert label is not None
                current[label] = sub
                stack.append(current)
            else:
                current.append(sub)
                stack.append(current)
            current, label = sub, None
        else:
            label = metric.key
    return root


def ng_statistics(metrics: Iterable[Metric]) -> dict[str, Any]:
    """The ``statistics`` dictionary of the ng ``statistics`` reply."""
    return nested(metrics)


@dataclass(frozen=True, slots=True)
class RawValue:
    """A value as ``list jsonstats`` writes it: the short text bare, text values quoted."""

    metric: Metric

    def json(self) -> str:
        short = self.metric.short or ""
        return json.dumps(short) if self.metric.text else short


def json_text(metrics: Iterable[Metric]) -> str:
    """``list jsonstats``: one JSON object with the short values written bare, as rtpengine
    does (``"avgcallduration":0.000000``), and text values (names, addresses) quoted."""
    return _dump(nested(metrics, raw=True))


def _dump(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    assert isinstance(value, RawValue)
    return value.json()


def totals_text(metrics: Iterable[Metric]) -> str:
    """``list totals``: every entry with a description, in order."""
    lines = []
    for metric in metrics:
        if metric.descr is None:
            continue
        if metric.long is None:
            lines.append(f"{metric.descr}\n")
        elif metric.descr:
            lines.append(f" {metric.descr:<48}:{metric.long}\n")
        else:
            lines.append(f"{metric.long}\n")
    return "".join(lines)


# ---------------------------------------------------------------------------- ng command

async def _statistics(request: NgRequest, ctx: NgContext) -> Reply:
    return {"statistics": ng_statistics(gather(ctx.runtime))}


# ---------------------------------------------------------------------------- workers

#: Keys whose values are not added up when workers' statistics are merged.
_KEEP_LOWEST = frozenset({"min"})
_KEEP_HIGHEST = frozenset({"max", "uptime"})
_KEEP_FIRST = frozenset({"last"})


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _identity(item: Any) -> tuple[Any, ...]:
    """What names an entry of a list (a proxy, an interface): its text values."""
    if not isinstance(item, dict):
        return (item,)
    return tuple((k, v) for k, v in item.items() if isinstance(v, str) and _number(v) is None)


def _merge(key: str, values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for v in values if isinstance(v, dict) for k in v))
        return {k: _merge(k, [v[k] for v in values if isinstance(v, dict) and k in v])
                for k in keys}
    if isinstance(first, list):
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for value in values:
            for item in value if isinstance(value, list) else ():
                groups.setdefault(_identity(item), []).append(item)
        return [_merge(key, items) for items in groups.values()]
    numbers = [_number(v) for v in values]
    if key in _KEEP_FIRST or any(n is None for n in numbers):
        return first
    picked = [n for n in numbers if n is not None]
    total = (min(picked) if key in _KEEP_LOWEST else max(picked) if key in _KEEP_HIGHEST
             else sum(picked))
    if isinstance(first, int):
        return int(total)
    decimals = len(first.partition(".")[2]) if "." in first else 0
    return f"{total:.{decimals}f}" if decimals else str(int(total))


def merge_statistics(replies: list[Reply], request: dict[str, Any]) -> Reply:
    """Every worker's ``statistics`` reply as one: counts and gauges added up (each worker
    counts only its own calls and requests), port bounds widened, averages recomputed."""
    merged: dict[str, Any] = _merge("statistics", [r.get("statistics", {}) for r in replies])
    totals = merged.get("totalstatistics", {})
    count = totals.get("managedsessions", 0)
    duration = float(totals.get("totalcallsduration", 0) or 0)
    squared = float(totals.get("totalcallsduration2", 0) or 0)
    average = duration / count if count else 0.0
    if "avgcallduration" in totals:
        totals["avgcallduration"] = f"{average:.6f}"
    if "totalcallsduration_stddev" in totals:
        variance = abs(squared / count - average * average) if count else 0.0
        totals["totalcallsduration_stddev"] = f"{math.sqrt(variance):.6f}"
    for interface in merged.get("interfaces", []):
        ports = interface.get("ports", {}) if isinstance(interface, dict) else {}
        if ports.get("totals"):
            ports["used_pct"] = f"{ports.get('used', 0) * 100.0 / ports['totals']:.2f}"
    return {"statistics": merged}


#: The ng ``statistics`` command (rtpengine's ``statistics_ng``).
STATISTICS = NgCommand("statistics", "stats", NgRequest, _statistics, gather=merge_statistics)
