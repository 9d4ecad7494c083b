"""The ng offer/answer conformance corpus against a real rtpgate, and rtpgate's own scenarios.

``../shared/conformance`` (external; skipped, saying so, where it is missing) holds 50
scenarios captured from rtpengine 10.5.3.5 and the runner that compares replies exactly
(modulo ports, ICE credentials, timestamps).  ``cases/`` next to this file holds the project's
own scenarios, written from the reference notes, their replies captured from the same rtpengine
10.5 with ``capture_cases.py``; they always run, with ``sdpconf.py`` next to this file (a copy
of the shared runner, checked against it where the shared folder is present).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import shared_file
from engine_client import new_call_id, ng
from rtpgate.testing import ServerProcess

HERE = Path(__file__).parent
RUNNER = HERE / "sdpconf.py"


@pytest.fixture
def server(rtpgate_server: Callable[..., ServerProcess]) -> ServerProcess:
    return rtpgate_server("--delete-delay=0")


def run(server: ServerProcess, *paths: Path) -> dict[str, str]:
    out = subprocess.run([sys.executable, str(RUNNER), "--ng", server.url(path="/ng"),
                          *map(str, paths)], capture_output=True, text=True, timeout=300)
    results = {}
    for line in out.stdout.splitlines():
        match = re.match(r"(PASS|FAIL) (\S+?)(?::|$)(.*)", line)
        if match:
            results[match.group(2)] = match.group(1) + match.group(3)
    assert results, out.stdout + out.stderr
    return results


def test_runner_is_the_shared_one() -> None:
    assert RUNNER.read_bytes() == shared_file("conformance/sdpconf.py").read_bytes(), (
        "tests/engine/sdpconf.py differs from the shared runner: copy it again")


def test_corpus(server: ServerProcess) -> None:
    results = run(server, shared_file("conformance/cases"))
    assert len(results) == 50
    assert {name: result for name, result in results.items() if result != "PASS"} == {}


def test_own_scenarios(server: ServerProcess) -> None:
    results = run(server, HERE / "cases")
    assert len(results) == len(list((HERE / "cases").glob("*.json")))
    assert {name: result for name, result in results.items() if result != "PASS"} == {}


def test_dual_stack_scenarios(rtpgate_server: Callable[..., ServerProcess]) -> None:
    """``cases_dual/``: captured from rtpengine 10.5 with ``interface = 127.0.0.1;::1``."""
    server = rtpgate_server("--delete-delay=0", "-i", "127.0.0.1", "-i", "::1")
    results = run(server, HERE / "cases_dual")
    assert len(results) == len(list((HERE / "cases_dual").glob("*.json")))
    assert {name: result for name, result in results.items() if result != "PASS"} == {}


#: A party's own host candidates at the top local preference (65535).
ICE_OWN = ("a=ice-ufrag:asbsdfds\r\na=ice-pwd:sfhwsrgyergws45ujhsrthsrhH\r\n"
           "a=candidate:sfthqw45hdfgdfsb 1 UDP 2130706431 192.168.10.21 16384 typ host\r\n"
           "a=candidate:sfthqw45hdfgdfsb 2 UDP 2130706430 192.168.10.21 16385 typ host\r\n")


def _candidates(sdp: str) -> list[tuple[str, str, str]]:
    """(component, priority, address) of each ``a=candidate`` line rtpgate wrote."""
    return [(f[1], f[3], f[4]) for f in (line.split(" ") for line in sdp.split("\r\n")
                                         if line.startswith("a=candidate:"))
            if f[4] in ("127.0.0.1", "::1")]


def test_dual_stack_pass_through_priorities(
        rtpgate_server: Callable[..., ServerProcess]) -> None:
    """Pass-through (``ICE=optional``, ICE in the offer) on a dual-stack interface: rtpgate's
    candidates go just above the party's own, which are at the top local preference, so on
    the second address the local preference falls below zero and wraps as rtpengine's unsigned
    32-bit arithmetic (the priorities rtpengine 10.5 wrote for this SDP with ``interface =
    127.0.0.1;::1``; the corpus runner ignores ``a=candidate`` lines, and the capture is not
    kept as a case: 10.5 gives both addresses the same port, rtpgate a port of each pool)."""
    server = rtpgate_server("--delete-delay=0", "-i", "127.0.0.1", "-i", "::1")
    call = new_call_id()
    sdp = ("v=0\r\no=alice 1 1 IN IP4 192.168.10.21\r\ns=-\r\nc=IN IP4 192.168.10.21\r\n"
           "t=0 0\r\nm=audio 16384 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" + ICE_OWN)
    reply = ng(server, {"command": "offer", "call-id": call, "from-tag": "ft", "sdp": sdp,
                        "ICE": "optional"})
    assert _candidates(reply["sdp"]) == [
        ("1", "2097152255", "127.0.0.1"), ("1", "4294967295", "::1"),
        ("2", "2097152254", "127.0.0.1"), ("2", "4294967294", "::1")], reply["sdp"]
    ng(server, {"command": "delete", "call-id": call, "from-tag": "ft"})


@pytest.mark.parametrize("corpus", ["own", "shared"])
def test_srtp_cases_over_udp(rtpgate_server: Callable[..., ServerProcess], corpus: str) -> None:
    """The SRTP scenarios (rtpgate's own, and the shared corpus's) over ng/UDP as well as
    HTTP."""
    cases_dir = HERE / "cases" if corpus == "own" else shared_file("conformance/cases")
    cases = sorted(cases_dir.glob("srtp_*.json"))
    assert cases
    server = rtpgate_server("--delete-delay=0", "--listen-http=127.0.0.1:0",
                            "--listen-ng=127.0.0.1:0")
    host, port = server.address("ng-udp")
    out = subprocess.run([sys.executable, str(RUNNER), "--ng", f"udp://{host}:{port}",
                          *map(str, cases)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(cases)} passed, 0 failed" in out.stdout


def test_pubsub_scenarios(server: ServerProcess) -> None:
    """``cases_pubsub/``: publish, subscribe request (one source, several, SIPREC), subscribe
    answer, unsubscribe, captured from rtpengine 10.5.  Compared like the others, except the
    ``o=`` and ``s=`` of the SDPs the server makes itself (its session id and software id)."""
    sys.path.insert(0, str(HERE))
    import sdpconf

    class Normaliser(sdpconf.Normaliser):  # type: ignore[misc, name-defined]
        def sdp_line(self, line: str, mport: int | None) -> str:
            if line not in self.client_lines:
                made = re.fullmatch(r"o=- (\d+) (\d+) (IN IP[46] \S+)", line)
                if made:
                    return (f"o=- {self.label('SESSION', made.group(1))} "
                            f"{self.label('SESSION', made.group(2))} {made.group(3)}")
                if line.startswith("s=") and re.fullmatch(r"s=(rtpengine|rtpgate)-\S+", line):
                    return "s=<SOFTWARE-ID>"
            return str(super().sdp_line(line, mport))

    client = sdpconf.NgClient(server.url(path="/ng"))
    cases = sdpconf.load_cases([str(HERE / "cases_pubsub")])
    assert len(cases) == 14
    failed = {}
    for n, (name, scenario) in enumerate(cases):
        runner_normaliser = sdpconf.Normaliser
        sdpconf.Normaliser = Normaliser
        try:
            ok, first, diffs = sdpconf.run_scenario(client, scenario, f"ps{n}x", None)
        finally:
            sdpconf.Normaliser = runner_normaliser
        if not ok:
            failed[name] = "\n".join([first, *diffs[:60]])
    assert failed == {}, "\n\n".join(f"{k}: {v}" for k, v in failed.items())
