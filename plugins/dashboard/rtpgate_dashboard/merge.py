"""The whole server's page from every worker's part (``--num-threads``): counters and rates
summed, the calls table's rows united and paged as one table, chart points summed per tick.

Each worker's part is JSON over the workers' local link (:mod:`.workers`); these functions only
add the parts up, so they are the same whichever worker serves the page.
"""

from __future__ import annotations

from typing import Any

from .calls import View
from .sampler import SIGNALLING

#: Sort keys of a row as sent (``age`` ascending is the youngest call first).
ROW_KEYS: dict[str, Any] = {
    "call_id": lambda r: r["call_id"],
    "labels": lambda r: r["labels"],
    "age": lambda r: -r["created"],
    "legs": lambda r: len(r["legs"]),
    "proxy": lambda r: r["proxy"],
    "rate": lambda r: r["rate"],
    "loss": lambda r: -1.0 if r["loss"] is None else r["loss"],
    "jitter": lambda r: -1.0 if r["jitter"] is None else r["jitter"],
}
#: How far apart (seconds) two workers' chart points may be and still be one tick.
SAME_TICK = 1.0


def page(view: View, heads: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of the whole server's calls from each worker's head of its sorted, filtered
    rows (its first ``offset + limit``, which hold every row this page can show)."""
    rows = [row for head in heads for row in head["rows"]]
    rows.sort(key=ROW_KEYS[view.sort], reverse=view.descending)
    matched = sum(head["matched"] for head in heads)
    offset = min(view.offset, max(0, (matched - 1) // view.limit * view.limit))
    return {"total": sum(head["total"] for head in heads), "matched": matched,
            "offset": offset, "limit": view.limit, "sort": view.sort,
            "descending": view.descending, "filter": view.filter,
            "rows": rows[offset:offset + view.limit]}


def summary(parts: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """The page's summary of the whole server: this worker's (``parts[0]``) time and plugins,
    the longest uptime, every other figure the sum over the workers that answered; ``workers``
    says which worker serves the page and which did not answer (left out of the sums)."""
    summaries = [part["summary"] for part in parts]
    own = summaries[0]
    merged: dict[str, Any] = {
        "time": own["time"],
        "uptime": max(s["uptime"] for s in summaries),
        "sessions": _sum_fields([s["sessions"] for s in summaries]),
        "relay": {**_sum_fields([s["relay"] for s in summaries], ("packets", "bytes", "errors")),
                  "measured": any(s["relay"]["measured"] for s in summaries)},
        "signalling": _signalling(summaries),
        "errors": _sum_fields([s["errors"] for s in summaries]),
        "interfaces": _interfaces(summaries),
        "clients": _clients(summaries),
        "plugins": own.get("plugins", []),
        "dashboard": _sum_fields([s.get("dashboard", {}) for s in summaries]),
        "point": [own["point"][0], *(sum(values) for values in
                                     zip(*(s["point"][1:] for s in summaries), strict=True))],
    }
    answered = sorted(part["worker"] for part in parts)
    merged["workers"] = {"count": count, "serving": parts[0]["worker"], "answered": answered,
                         "missing": [i for i in range(count) if i not in answered]}
    return merged


def history(own: list[list[float]], others: list[list[list[float]]]) -> list[list[float]]:
    """Chart points summed per tick: this worker's ticks are the time line, each sibling's
    nearest point within :data:`SAME_TICK` is added to them."""
    merged = [list(point) for point in own]
    for points in others:
        index = 0
        for point in merged:
            while index + 1 < len(points) and \
                    abs(points[index + 1][0] - point[0]) <= abs(points[index][0] - point[0]):
                index += 1
            if index < len(points) and abs(points[index][0] - point[0]) <= SAME_TICK:
                for i in range(1, len(point)):
                    point[i] += points[index][i]
    return merged


def _sum_fields(values: list[dict[str, Any]], names: tuple[str, ...] | None = None
                ) -> dict[str, Any]:
    keys = names if names is not None else tuple(dict.fromkeys(k for v in values for k in v))
    total: dict[str, Any] = {}
    for key in keys:
        added = sum(v.get(key, 0) for v in values)
        total[key] = round(added, 6) if isinstance(added, float) else added
    return total


def _signalling(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_command: dict[str, list[dict[str, Any]]] = {}
    for s in summaries:
        for row in s["signalling"]:
            by_command.setdefault(row["command"], []).append(row)
    rows = []
    for command in [*SIGNALLING, *sorted(c for c in by_command if c not in SIGNALLING)]:
        parts = by_command.get(command, [])
        total = sum(p["total"] for p in parts)
        rate = sum(p["rate"] for p in parts)
        rows.append({"command": command, "total": total, "rate": round(rate, 2),
                     "latency_ms": _weighted(parts, "latency_ms", "rate"),
                     "mean_ms": _weighted(parts, "mean_ms", "total")})
    return rows


def _weighted(parts: list[dict[str, Any]], value: str, weight: str) -> float | None:
    """The workers' mean of ``value`` weighted by how much each did (its ``weight``)."""
    known = [(p[value], p[weight]) for p in parts if p[value] is not None and p[weight]]
    weights = sum(w for _, w in known)
    return round(sum(v * w for v, w in known) / weights, 3) if weights else None


def _interfaces(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each interface once: the port range is the workers' adjacent shares put together."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for s in summaries:
        for interface in s["interfaces"]:
            key = (interface["name"], interface["address"])
            known = merged.get(key)
            if known is None:
                merged[key] = {"name": interface["name"], "address": interface["address"],
                               "ports": dict(interface["ports"]),
                               "in": dict(interface["in"]), "out": dict(interface["out"])}
                continue
            ports, theirs = known["ports"], interface["ports"]
            ports["min"], ports["max"] = (min(ports["min"], theirs["min"]),
                                          max(ports["max"], theirs["max"]))
            ports["used"] += theirs["used"]
            ports["free"] += theirs["free"]
            for way in ("in", "out"):
                for field in ("packets", "bytes"):
                    known[way][field] += interface[way][field]
    return list(merged.values())


def _clients(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The control clients by source address, their requests summed over the workers."""
    merged: dict[str, dict[str, Any]] = {}
    for s in summaries:
        for client in s["clients"]:
            known = merged.setdefault(client["proxy"], {"proxy": client["proxy"], "counts": {},
                                                        "errors": 0})
            for command, count in client["counts"].items():
                known["counts"][command] = known["counts"].get(command, 0) + count
            known["errors"] += client["errors"]
    return list(merged.values())
