"""Clients that send one CLI command over each transport, and the listener options of a server
that has them all."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import quote

import websockets
from rtpgate.testing import ServerProcess, recv_until_closed

LISTENERS = ("--listen-http=127.0.0.1:0", "--listen-cli=127.0.0.1:0",
             "--listen-ng=127.0.0.1:0")


def tcp_cli(server: ServerProcess, line: bytes) -> bytes:
    """What ``rtpengine-ctl`` does: one line, then read until the server closes."""
    with socket.create_connection(server.address("cli-tcp"), timeout=5) as sock:
        sock.sendall(line)
        return recv_until_closed(sock)


def http_cli(server: ServerProcess, command: str, raw_path: bool = False) -> bytes:
    path = "/cli/" + (command if raw_path else quote(command, safe="+"))
    status, headers, body = server.http("GET", path)
    assert (status, headers.get("content-type")) == (200, "text/plain"), (status, body)
    return body


def ws_cli(server: ServerProcess, *messages: bytes | str) -> list[bytes]:
    """Each message on one ``cli.rtpengine.com`` connection; one binary reply each."""
    async def go() -> list[bytes]:
        replies = []
        async with websockets.connect(server.ws_url(),
                                      subprotocols=["cli.rtpengine.com"]) as ws:  # type: ignore[list-item]
            for message in messages:
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 5)
                assert isinstance(reply, bytes), "replies are binary frames"
                replies.append(reply)
        return replies
    return asyncio.run(go())


def ng_udp(server: ServerProcess, payload: bytes, cookie: bytes = b"c") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(cookie + b" " + payload, server.address("ng-udp"))
        reply, _ = sock.recvfrom(65536)
    assert reply.startswith(cookie + b" ")
    return reply[len(cookie) + 1:]
