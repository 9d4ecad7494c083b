"""The SDP conformance corpus (``shared/conformance/sdpconf.py``) over UDP gives exactly what it
gives over HTTP ``/ng``: the UDP transport adds, drops and changes nothing.  Whether every case
passes is the engine's matter (tests/ng); this checks that the answer does not depend on the
transport."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

from probe_compare import SDPCONF, require_reference
from rtpgate.testing import ServerProcess


def sdpconf(endpoint: str) -> str:
    done = subprocess.run([sys.executable, str(SDPCONF), "--ng", endpoint],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.stdout.strip(), done.stderr
    return done.stdout


def test_sdpconf_over_udp_equals_over_http(rtpgate_server: Callable[..., ServerProcess]) -> None:
    require_reference()
    server = rtpgate_server("--listen-http=127.0.0.1:0", "--listen-ng=127.0.0.1:0")
    host, port = server.address("ng-udp")
    over_udp = sdpconf(f"udp://{host}:{port}")
    over_http = sdpconf(server.url("http", "/ng"))
    assert over_udp == over_http
    assert " passed, " in over_udp.splitlines()[-1]
