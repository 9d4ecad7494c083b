"""``set controltos`` through the CLI changes the TOS of the very next ng reply."""

from __future__ import annotations

import socket

from rtpgate.testing import ServerProcess


def reply_tos(server: ServerProcess, cookie: bytes) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
        sock.settimeout(5)
        sock.sendto(cookie + b" d7:command4:pinge", server.address("ng-udp"))
        data, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(1))
    assert data.endswith(b" d6:result4:ponge")
    return ancillary[0][2][0]


def test_set_controltos_applies_to_the_next_reply(rtpgate_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = rtpgate_server("--listen-http=127.0.0.1:0",
                                           "--listen-ng=127.0.0.1:0")
    assert reply_tos(server, b"c1") == 0
    status, _, body = server.http("GET", "/cli/set+controltos+184")
    # rtpengine's copy-paste quirk: the success text names redis-connect-timeout
    assert (status, body) == (200, b"Success setting redis-connect-timeout to 184\n")
    assert server.http("GET", "/cli/list+controltos")[2] == b"184\n"
    assert reply_tos(server, b"c2") == 184
    assert server.http("GET", "/cli/set+controltos+256")[2] == (
        b"Invalid control-tos value 256, must be between 0 and 255\n")
    assert reply_tos(server, b"c3") == 184
