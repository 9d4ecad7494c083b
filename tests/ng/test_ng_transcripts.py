"""rtpgate against rtpengine 10.5's recorded ng exchanges (probe.py's ng, ws and dup groups).

Left out of the byte comparison, each for a stated reason (and tested on its own elsewhere):
- ``/ng-plain`` and ``ng-plain.rtpengine.com``: 10.5 predates them (404 / refused); rtpgate follows
  upstream (tests/ng/test_ng_http.py, test_ng_ws.py).
- ``/admin``: the Janus admin API is not implemented (404).
- POST without Content-Type, without Content-Length, or chunked: 10.5 closes the connection
  without a word; rtpgate answers (404 for a missing type; a chunked body is read) — see
  docs/architecture.md.
- JSON with non-string values: newer rtpengine accepts JSON numbers; so does rtpgate.

``statistics`` replies hold state, so only their structure is compared: every key 10.5 sends is
there, in the same order and of the same type, except ``intervalstatistics`` (graphite-only in
newer rtpengine; rtpgate has no graphite), and newer commands add their columns
(``pausereccount``, ``clicount``, ...) — see docs/metrics.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probe_compare import compare, normalise, reference, run_probe
from rtpgate.testing import ServerProcess

NOT_COMPARED = ("/ng-plain", "/admin", "no content-type", "no content-length", "chunked",
                "non-string values", "ng-plain.rtpengine.com")
STATISTICS = "statistics"


def missing_in(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Keys of ``theirs`` absent from ``ours`` (or of another type, or out of order)."""
    if isinstance(theirs, dict):
        if not isinstance(ours, dict):
            return [f"{path}: not a dictionary"]
        problems = []
        expected = [k for k in theirs if k != "intervalstatistics"]
        present = [k for k in ours if k in expected]
        if present != [k for k in expected if k in ours]:
            problems.append(f"{path}: key order differs")
        for name in expected:
            if name not in ours:
                problems.append(f"{path}/{name}: missing")
            else:
                problems += missing_in(ours[name], theirs[name], f"{path}/{name}")
        return problems
    if isinstance(theirs, (list, tuple)):
        if not isinstance(ours, (list, tuple)):
            return [f"{path}: not a list"]
        return [p for a, b in zip(ours, theirs, strict=False) for p in missing_in(a, b, path)]
    return [] if ours == theirs else [f"{path}: {ours!r} instead of {theirs!r}"]


def statistics_problems(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[str]:
    mine = {x["name"]: x for x in ours}
    problems = []
    for ref in theirs:
        if STATISTICS in ref["name"]:
            problems += [f"{ref['name']}{p}" for p in
                         missing_in(normalise(mine[ref["name"]], True), normalise(ref, True))]
    return problems


def test_http_ng_group_matches_rtpengine(rtpgate_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = rtpgate_server("--listen-http=127.0.0.1:0",
                                           "--listen-ng=127.0.0.1:0")
    ours = run_probe(server, "ng", tmp_path, ng_udp_port=server.port("ng-udp"))
    http_ng = [x for x in ours if x["group"] == "http_ng"]
    problems = compare(http_ng, reference("http_ng"), skip=(*NOT_COMPARED, STATISTICS))
    problems += statistics_problems(http_ng, reference("http_ng"))
    problems += compare([x for x in ours if x["group"] == "dup"], reference("dup"),
                        skip=NOT_COMPARED)
    assert not problems, "\n".join(problems)


def test_ws_ng_session_matches_rtpengine(rtpgate_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = rtpgate_server()
    [ours] = [x for x in run_probe(server, "ws", tmp_path)
              if x["group"] == "ws:ng.rtpengine.com"]
    [theirs] = [x for x in reference("ws:ng.rtpengine.com")
                if x["name"] == "WS ng.rtpengine.com"]
    mine, ref = normalise(ours), normalise(theirs)
    assert mine["handshake"] == ref["handshake"]
    assert len(mine["frames"]) == len(ref["frames"])
    problems = []
    for i, (got, expected) in enumerate(zip(mine["frames"], ref["frames"], strict=True)):
        sent = theirs["frames"][i]["sent"][:40]
        if '"statistics"' in sent or "10:statistics" in sent:
            shape_got = normalise(ours, True)["frames"][i]
            shape_expected = normalise(theirs, True)["frames"][i]
            problems += [f"frame {i}{p}" for p in missing_in(shape_got, shape_expected)]
        elif got != expected:
            problems.append(f"frame {i} ({sent!r}):\n  expected {expected}\n  got      {got}")
    assert not problems, "\n".join(problems)
