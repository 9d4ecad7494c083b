"""Helpers of the /metrics end-to-end tests: ng requests, scrapes, exposition parsing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from e2e_helpers import shared_file
from rtpgate.testing import ServerProcess

TRANSCRIPTS = "reference/transcripts"
NG = {"Content-Type": "application/x-rtpengine-ng"}
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def probe_env() -> dict[str, str]:
    """``PYTHONPATH`` with this directory's test plugin and the core test plugins."""
    here = Path(__file__).parent
    paths = [str(here), str(here.parent / "test_plugins_src"), os.environ.get("PYTHONPATH")]
    return {"PYTHONPATH": os.pathsep.join(filter(None, paths))}


def ng(server: ServerProcess, request: dict[str, object], cookie: str | None = None
       ) -> dict[str, object]:
    """One ng request over HTTP ``/ng`` (JSON payload); the decoded reply."""
    cookie = cookie or uuid.uuid4().hex[:12]
    status, _, body = server.http("POST", "/ng", f"{cookie} {json.dumps(request)}".encode(), NG)
    assert status == 200, body
    got_cookie, _, payload = body.partition(b" ")
    assert got_cookie == cookie.encode()
    reply: dict[str, object] = json.loads(payload)
    return reply


def scrape(server: ServerProcess, accept: str | None = None) -> tuple[dict[str, str], str]:
    status, headers, body = server.http("GET", "/metrics",
                                        headers={"Accept": accept} if accept else None)
    assert status == 200, body
    return headers, body.decode()


def promtool_check(text: str) -> str:
    """``promtool check metrics`` on ``text``: its complaints ('' when there are none)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (.ci/run does)"
    run = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                         text=True, timeout=60)
    problems = (run.stdout + run.stderr).strip()
    assert run.returncode == 0 or problems, "promtool failed without saying why"
    return problems


@dataclass
class Family:
    type: str
    help: str | None = None
    #: label names -> (sample name, labels) -> value
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)

    @property
    def label_names(self) -> set[tuple[str, ...]]:
        return {tuple(sorted(n for n, _ in labels if n != "le")) for _, labels in self.samples}


def parse(text: str) -> dict[str, Family]:
    """The text exposition format, read leniently enough for rtpengine's own output
    (families split, HELP after samples): family name (as on its ``# TYPE`` line) -> family."""
    families: dict[str, Family] = {}
    helps: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, text_ = line[7:].partition(" ")
            helps[name] = text_
        elif line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            families.setdefault(name, Family(type_, helps.get(name)))
        elif line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.groups()
            family = families[_family_of(name, families)]
            key = (name, tuple(LABEL.findall(labels or "")))
            family.samples[key] = float(value)
    return families


def _family_of(sample: str, families: dict[str, Family]) -> str:
    if sample in families:
        return sample
    for suffix in ("_bucket", "_count", "_sum", "_created", "_total"):
        base = sample.removesuffix(suffix)
        if base != sample and base in families:
            return base
    raise AssertionError(f"sample {sample} has no # TYPE line")


def value(families: dict[str, Family], sample: str, **labels: str) -> float:
    """The value of one sample (0 when the family has no such series yet)."""
    family = families.get(sample) or families[_family_of(sample, families)]
    wanted = set(labels.items())
    found = [v for (name, lbls), v in family.samples.items()
             if name == sample and set(lbls) >= wanted]
    assert len(found) <= 1, f"{sample}{labels} matches {len(found)} series"
    return found[0] if found else 0.0


def rtpengine_after_traffic() -> dict[str, Family]:
    """The families of rtpengine 10.5's ``/metrics`` after ng traffic (the transcript)."""
    text = shared_file(f"{TRANSCRIPTS}/http_metrics_after_traffic.txt").read_text()
    start = text.index("< --- body")
    body = text[text.index("\n", start) + 1:text.index("< --- end body ---")]
    return parse(body)


def ng_transcript_statistics(encoding: str) -> dict[str, object]:
    """rtpengine 10.5's ng ``statistics`` reply from ``http_ng.txt`` (``json`` or ``bencode``),
    decoded (bencode strings as ``str``, integers as ``int``)."""
    from rtpgate.ngcommands import codec

    text = shared_file(f"{TRANSCRIPTS}/http_ng.txt").read_text()
    section = text[text.index(f"===== /ng {encoding} statistics ====="):]
    marker = '{"statistics":' if encoding == "json" else "d10:statisticsd"
    line = next(ln for ln in section.splitlines() if marker in ln and not ln.startswith(">"))
    payload = line.partition(" ")[2].encode()
    reply, _ = codec.decode(payload)
    return reply
