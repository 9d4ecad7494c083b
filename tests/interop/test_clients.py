"""Real third-party ng clients against rtpgate: the npm package rtpengine-client (UDP, TCP,
WebSocket), rtpengine's Perl client NGCP::Rtpengine and its rtpengine-ng-client script (UDP,
HTTP /ng), and Python websockets sending text frames (as Kamailio's lwsc does) and binary ones."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from interop_helpers import (
    call_steps,
    check_call_replies,
    interop_only,
    need,
    run_npm_client,
    run_perl_client,
    unique,
)
from rtpgate.testing import ServerProcess
from websockets.sync.client import connect

pytestmark = interop_only

LISTENERS = ("--listen-ng=127.0.0.1:0", "--listen-tcp-ng=127.0.0.1:0",
             "--listen-http=127.0.0.1:0")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(LISTENERS, workdir=tmp_path_factory.mktemp("interop")).start()
    yield proc
    assert proc.stop() == 0, proc.log


def target(server: ServerProcess, transport: str) -> str:
    if transport == "ws":
        return server.ws_url()
    host, port = server.address(f"ng-{transport}")
    return f"{host}:{port}"


# ---------------------------------------------------------------------- npm rtpengine-client


@pytest.mark.parametrize("transport", ["udp", "tcp", "ws"])
def test_npm_client_call_sequence(server: ServerProcess, transport: str) -> None:
    call_id = unique(f"npm-{transport}")
    results = run_npm_client(transport, target(server, transport), call_steps(call_id))
    assert all("reply" in r for r in results), results
    replies = [r["reply"] for r in results]
    assert replies[0] == {"result": "pong"}
    check_call_replies(call_id, replies)


# ---------------------------------------------------------------------- Perl NGCP::Rtpengine


def perl_requests(call_id: str) -> list[dict[str, Any]]:
    return [{"command": name, **(options or {})} for name, options in call_steps(call_id)]


@pytest.mark.parametrize("transport", ["udp", "http"])
def test_perl_client_call_sequence(server: ServerProcess, transport: str) -> None:
    call_id = unique(f"perl-{transport}")
    if transport == "udp":
        host, port = server.address("ng-udp")
        args = ["udp", host, str(port)]
    else:
        args = ["http", server.url("http", "/ng")]
    results = run_perl_client(args, perl_requests(call_id))
    assert results[0] == {"reply": {"result": "pong"}}
    assert all("reply" in r for r in results), results
    check_call_replies(call_id, [r["reply"] for r in results], ordered=False)


def test_rtpengine_ng_client_script(server: ServerProcess) -> None:
    host, port = server.address("ng-udp")
    done = subprocess.run([need("rtpengine-ng-client"), f"--proxy-address={host}",
                           f"--proxy-port={port}", "ping"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "result => 'pong'" in done.stdout


# ---------------------------------------------------------------------- Python websockets


@pytest.mark.parametrize("frame", ["text", "binary"])
def test_websockets_text_and_binary_frames(server: ServerProcess, frame: str) -> None:
    """Kamailio's lwsc sends ng as text frames; replies are always binary frames."""
    with connect(server.ws_url(), subprotocols=["ng.rtpengine.com"],  # type: ignore[list-item]
                 open_timeout=5) as ws:
        for request, reply in ((b"d7:command4:pinge", b"d6:result4:ponge"),
                               (b'{"command":"ping"}', b'{"result":"pong"}')):
            key = unique(f"ws-{frame}").encode()
            message = key + b" " + request
            ws.send(message.decode() if frame == "text" else message)
            got = ws.recv(timeout=5)
            assert isinstance(got, bytes)
            assert got == key + b" " + reply
