"""``list totals`` and ``list jsonstats`` as rendered from the metric list, against rtpengine
10.5's output after traffic (``http_metrics_after_traffic.txt``): the same lines and layout
(numbers aside), without the graphite block."""

from __future__ import annotations

import json
import re

from e2e_helpers import shared_file
from metrics_helpers import TRANSCRIPTS
from rtpgate import statistics
from rtpgate.boot import boot


def _body(title: str) -> str:
    text = shared_file(f"{TRANSCRIPTS}/http_metrics_after_traffic.txt").read_text()
    section = text[text.index(f"===== {title} ====="):]
    start = section.index("< --- body")
    return section[section.index("\n", start) + 1:section.index("< --- end body ---")]


def _gather() -> list[statistics.Metric]:
    runtime, _ = boot(["--config-file=none"])
    runtime.stats.control.record("127.0.0.1", "ping", 0.00001, False)
    return statistics.gather(runtime)


def _shape(text: str) -> list[str]:
    return [re.sub(r"\d+(\.\d+)?", "N", line) for line in text.split("\n")]


def test_list_totals_has_rtpengines_lines() -> None:
    theirs = _body("GET /cli/list+totals")
    graphite = theirs.index("Graphite interval statistics")
    theirs = theirs[:graphite] + theirs[theirs.index("MOS statistics:"):]
    control = theirs.index("Control statistics:")
    ours = statistics.totals_text(_gather())
    assert _shape(ours[:ours.index("Control statistics:")]) == _shape(theirs[:control])
    table = ours[ours.index("Control statistics:"):].split("\n")
    assert table[:2] == ["Control statistics:", ""]
    their_table = theirs[control:].split("\n")
    # rtpengine 10.5's 24 columns in their order, with the newest rtpengine's further
    # commands (PauseRec, CLI) in between where the newest rtpengine puts them
    ours_columns = [c.strip() for c in table[2].split("|")]
    their_columns = [c.strip() for c in their_table[2].split("|")]
    assert [c for c in ours_columns if c in their_columns] == their_columns
    newer = [c for c in ours_columns if c not in their_columns]
    assert newer and set(newer) <= set(statistics.CONTROL_COLUMNS.values())
    assert all(len(c) == 12 for c in table[2].split("|")[1:])  # "| %10s " per column
    assert table[3].startswith("            127.0.0.1 |          1 |          0 |")
    assert len(table[3]) == len(table[2]) and table[3].endswith(" ")
    assert table[4:] == their_table[4:] == ["", "", "", "", ""]  # four blank lines


def test_list_jsonstats_writes_values_as_rtpengine() -> None:
    text = statistics.json_text(_gather())
    ours = json.loads(text)
    theirs = json.loads(_body("GET /cli/list+jsonstats"))
    assert list(ours) == [k for k in theirs if k != "intervalstatistics"]
    for section in ("currentstatistics", "totalstatistics", "mos"):
        assert list(ours[section]) == list(theirs[section])
    assert '"avgcallduration":0.000000,' in text and '"proxy":"127.0.0.1",' in text
    assert re.search(r'"uptime":\d+,', text)
