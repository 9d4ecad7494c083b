"""What the interop tests share: the gate, the server, the ng sequence and the client runners.

They run in ``tox -e interop`` (which sets ``RTPGATE_INTEROP=1`` and installs the npm packages
with ``npm ci``); elsewhere, e.g. in the e2e environment, they are skipped, so the suite does not
run them twice.  ``.ci/run`` installs Node.js and Debian's ``rtpengine-utils`` (the Perl client).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent

interop_only = pytest.mark.skipif(not os.environ.get("RTPGATE_INTEROP"),
                                  reason="interop tests run in tox -e interop")

SDP_OFFER = ("v=0\r\no=alice 1234567890 1234567890 IN IP4 127.0.0.1\r\ns=Talk\r\n"
             "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\n"
             "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000"
             "\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
SDP_ANSWER = ("v=0\r\no=bob 9876543210 9876543210 IN IP4 127.0.0.1\r\ns=Talk\r\n"
              "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\n"
              "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
              "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")


def call_steps(call_id: str) -> list[tuple[str, dict[str, Any] | None]]:
    """ping, offer, answer, query, list, statistics, delete for one call."""
    tags = {"call-id": call_id, "from-tag": f"ft-{call_id}"}
    return [
        ("ping", None),
        ("offer", {**tags, "sdp": SDP_OFFER, "replace": ["origin", "session-connection"]}),
        ("answer", {**tags, "to-tag": f"tt-{call_id}", "sdp": SDP_ANSWER,
                    "replace": ["origin", "session-connection"]}),
        ("query", {"call-id": call_id}),
        ("list", {"limit": 32}),
        ("statistics", None),
        ("delete", tags),
    ]


def check_call_replies(call_id: str, replies: list[dict[str, Any]], ordered: bool = True
                       ) -> None:
    """What each reply of :func:`call_steps` must hold (from rtpengine's own replies).
    ``ordered``: the client keeps the key order (Perl's hashes do not)."""
    ping, offer, answer, query, listed, stats, delete = replies
    assert ping == {"result": "pong"}
    for reply in (offer, answer):
        assert reply["result"] == "ok", reply
        assert "m=audio " in reply["sdp"] and "c=IN IP4 127.0.0.1" in reply["sdp"]
        assert not ordered or list(reply)[-1] == "result"
    assert query["result"] == "ok", query
    assert set(query["tags"]) == {f"ft-{call_id}", f"tt-{call_id}"}
    assert listed["result"] == "ok" and call_id in listed["calls"], listed
    assert stats["result"] == "ok"
    assert int(stats["statistics"]["currentstatistics"]["sessionstotal"]) >= 1
    assert delete["result"] == "ok", delete
    assert "created" in delete


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed (.ci/run installs it)")
    return path


def node_modules() -> Path:
    """``tests/interop/node_modules``, installed with ``npm ci`` when missing."""
    modules = HERE / "node_modules"
    if not (modules / "rtpengine-client").is_dir():
        subprocess.run([need("npm"), "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                       timeout=600, capture_output=True)
    return modules


def run_npm_client(transport: str, target: str,
                   steps: list[tuple[str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    node_modules()
    done = subprocess.run([need("node"), str(HERE / "ngclient.js"), transport, target,
                           json.dumps(steps)], capture_output=True, text=True, timeout=60,
                          cwd=HERE, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULTS ")), None)
    assert line is not None, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return list(json.loads(line.removeprefix("RESULTS ")))


def run_perl_client(args: list[str], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run([need("perl"), str(HERE / "ngperl.pl"), *args, json.dumps(requests)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return list(json.loads(done.stdout))


def unique(name: str) -> str:
    return f"{name}-{os.getpid()}-{time.monotonic_ns()}"
