"""probe.py's UDP and TCP groups against rtpgate, compared with rtpengine 10.5's recording
(``shared/reference/transcripts/probe.json``, from which ``udp_ng.txt`` and ``tcp_ng.txt`` were
written) modulo cookies, call-ids, ports and timestamps (``tests/probe_compare.py``).

Two things are not compared byte for byte, each for a stated reason:
- ``statistics`` holds state: only its top-level sections are compared, less
  ``intervalstatistics`` (graphite-only upstream; tests/ng checks the structure in depth);
- query and delete replies of newer rtpengine carry per-stream ``stats_out`` and per-media
  ``ingress SSRCs``, which 10.5 lacks; rtpgate follows the newer replies, so those two keys are
  taken out of ours before comparing (every key 10.5 sends must still be there, in order).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from probe_compare import normalise, reference, run_probe
from rtpgate.testing import ServerProcess

NEWER_KEYS = ("stats_out", "ingress SSRCs")


def without_newer_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_newer_keys(v) for k, v in value.items() if k not in NEWER_KEYS}
    if isinstance(value, list):
        return [without_newer_keys(v) for v in value]
    return value


def differences(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[str]:
    mine = {x["name"]: x for x in ours}
    problems = []
    for ref in theirs:
        got = mine.get(ref["name"])
        if got is None:
            problems.append(f"{ref['name']}: not probed")
            continue
        expected, actual = normalise(ref), without_newer_keys(normalise(got))
        if "statistics" in ref["name"]:
            expected = [k for k in expected["payload"]["statistics"]
                        if k != "intervalstatistics"]  # graphite-only upstream (tests/ng)
            actual = [k for k in actual["payload"]["statistics"] if k in expected]
        if expected != actual:
            problems.append(f"{ref['name']}:\n  expected {expected}\n  got      {actual}")
    return problems


def test_udp_and_tcp_groups_match_rtpengine(rtpgate_server: Callable[..., ServerProcess],
                                             tmp_path: Path) -> None:
    server = rtpgate_server("--listen-http=127.0.0.1:0", "--listen-ng=127.0.0.1:0",
                            "--listen-tcp-ng=127.0.0.1:0")
    ours = run_probe(server, "udp,tcp", tmp_path, ng_udp_port=server.port("ng-udp"),
                     ng_tcp_port=server.port("ng-tcp"))
    problems = []
    for group in ("udp_ng", "tcp_ng"):
        theirs = reference(group)
        mine = [x for x in ours if x["group"] == group]
        assert [x["name"] for x in mine] == [x["name"] for x in theirs]
        problems += differences(mine, theirs)
    assert not problems, "\n".join(problems)
