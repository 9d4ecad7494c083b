"""Replay the reference probe (``shared/tools/probe.py``) against rtpgate and compare its
exchanges with the ones recorded from rtpengine 10.5 (``shared/reference/transcripts/probe.json``)
modulo what changes from run to run: cookies and call-ids carry run stamps, media ports,
timestamps and counters depend on state.

Usage in a test::

    ours = run_probe(server, "ng", tmp_path)
    problems = compare(ours, reference("http_ng"), skip=...)
    assert not problems, "\\n".join(problems)
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from e2e_helpers import SHARED
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess

PROBE = SHARED / "tools" / "probe.py"
REFERENCE = SHARED / "reference" / "transcripts" / "probe.json"
SDPCONF = SHARED / "conformance" / "sdpconf.py"

#: run stamps: unix seconds, probe's hex RUN suffix, sdpconf-like prefixes
STAMP = re.compile(r"1[5-9]\d{8}|-[0-9a-f]{7,8}\b")


def require_reference() -> None:
    if not (PROBE.exists() and REFERENCE.exists()):
        pytest.skip(f"reference material not found under {SHARED} (set RTPGATE_SHARED)")


def _sdpconf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sdpconf", SDPCONF)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_probe(server: ServerProcess, only: str, out: Path, **ports: int) -> list[dict[str, Any]]:
    """Run probe.py's ``only`` groups against ``server``; ``ports`` override the defaults
    (``https_port``, ``ng_udp_port``, ``ng_tcp_port``, ``cli_port``; 0 skips a group)."""
    require_reference()
    args = {"http_port": server.port("http"), "https_port": 0, "ng_udp_port": 0,
            "ng_tcp_port": 0, "cli_port": 0, **ports}
    cmd = [sys.executable, str(PROBE), "--host", "127.0.0.1", "--only", only, "--out", str(out)]
    for name, value in args.items():
        cmd += [f"--{name.replace('_', '-')}", str(value)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    name = f"probe-{only.replace(',', '_')}.json"
    exchanges: list[dict[str, Any]] = json.loads((out / name).read_text())
    return exchanges


def reference(group: str) -> list[dict[str, Any]]:
    require_reference()
    return [x for x in json.loads(REFERENCE.read_text()) if x["group"] == group]


# ---------------------------------------------------------------------- normalising

def _http(raw: str) -> tuple[str, dict[str, str], bytes]:
    data = raw.encode("latin-1")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = " ".join(lines[0].split(" ")[1:2]) if lines and lines[0] else ""
    return status, headers, body


def ng_body(body: bytes, shape_only: bool = False) -> Any:
    """Decode ``[cookie SP] payload`` and normalise it (see module docstring)."""
    cookie, sep, payload = body.partition(b" ")
    if not sep or payload[:1] not in (b"d", b"{"):
        cookie, payload = b"", body
    try:
        decoded, fmt = codec.decode(payload)
    except codec.DecodeError:
        return {"raw": STAMP.sub("<STAMP>", body.decode("latin-1"))}
    normaliser = _sdpconf().Normaliser()
    value = normaliser.reply(_unstamp(decoded))
    if shape_only:
        value = _shape(value)
    return {"cookie": STAMP.sub("<STAMP>", cookie.decode("latin-1")), "format": fmt,
            "payload": value}


def _unstamp(value: Any) -> Any:
    if isinstance(value, dict):
        return {STAMP.sub("<STAMP>", k): _unstamp(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unstamp(v) for v in value]
    if isinstance(value, str):
        return STAMP.sub("<STAMP>", value)
    return value


def _shape(value: Any) -> Any:
    """Keys and value types only, for replies whose values are all state (statistics)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def normalise(exchange: dict[str, Any], shape_only: bool = False) -> Any:
    """A comparable form of one recorded exchange (HTTP, WS session or datagram)."""
    if "frames" in exchange:  # a WebSocket session
        head = exchange["response_head"].split("\r\n")[0]
        frames = [[(r["opcode"], ng_body(r["payload"].encode("latin-1"), shape_only))
                   for r in frame["received"]] for frame in exchange["frames"]]
        return {"handshake": head[:12], "frames": frames}
    response = exchange.get("response")
    if response is None:
        return None
    if response.startswith("HTTP/"):
        status, headers, body = _http(response)
        ctype = headers.get("content-type")
        is_ng = ctype is not None and ("rtpengine-ng" in ctype or "json" in ctype)
        return {"status": status, "content-type": ctype,
                "body": ng_body(body, shape_only) if is_ng and status == "200"
                else body.decode("latin-1")}
    return ng_body(response.encode("latin-1"), shape_only)


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]],
            skip: tuple[str, ...] = (), shape_only: tuple[str, ...] = ()) -> list[str]:
    """Differences between two lists of exchanges, matched by name.  Names containing one of
    ``skip`` are left out; those containing one of ``shape_only`` are compared by structure."""
    problems = []
    mine = {x["name"]: x for x in ours}
    for ref in theirs:
        name = ref["name"]
        if any(s in name for s in skip):
            continue
        got = mine.get(name)
        if got is None:
            problems.append(f"{name}: not probed")
            continue
        shape = any(s in name for s in shape_only)
        expected, actual = normalise(ref, shape), normalise(got, shape)
        if expected != actual:
            problems.append(f"{name}:\n  expected {expected}\n  got      {actual}")
    return problems
