"""A listener option that no installed transport binds is reported, not silently ignored."""

from __future__ import annotations

import time

from rtpgate.testing import ServerProcess


def test_listen_ng_without_raw_socket_transport_is_reported(rtpgate_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = rtpgate_server("--plugins-deny=udp", "--listen-http=127.0.0.1:0",
                                           "--listen-ng=127.0.0.1:0", "--listen-cli=127.0.0.1:0")
    time.sleep(0.2)
    assert ("--listen-ng 127.0.0.1:0 is configured, but no installed transport serves UDP "
            "listeners") in server.log
    assert "--listen-cli 127.0.0.1:0 is configured, but no installed transport serves TCP" \
        in server.log
    assert not server.addresses("ng-udp")


def test_no_warning_when_the_transport_is_installed(rtpgate_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = rtpgate_server("--listen-http=127.0.0.1:0", "--listen-ng=127.0.0.1:0")
    assert server.addresses("ng-udp")
    assert "no installed transport serves" not in server.log
