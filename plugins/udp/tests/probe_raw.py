"""Test-only protocols on raw listeners, loaded into the server with ``--plugin probe_raw``.

``probe-raw`` (UDP ``--listen-probe``, TCP ``--listen-tcp-probe``, lines) answers
``<transport> <local host> <local port> <peer host>|<body>``, except: ``bad`` is
:class:`Rejected`, ``boom`` raises, ``none`` gets no reply, ``sleep:<ms>:...`` waits first,
``size:...`` answers only the body's length.  ``probe-small`` (UDP ``--listen-probe-small``) takes
datagrams of at most 100 bytes.  ``probe-once`` (TCP ``--listen-probe-once``) answers one line
and closes, with at most 16 bytes buffered.  ``probe-orphan`` declares a listener whose option
nobody declares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from rtpgate.api import (
    DatagramListener,
    ListenAddress,
    Message,
    Option,
    Protocol,
    Rejected,
    Reply,
    Runtime,
    StreamListener,
    hookimpl,
)


def lines(buffer: bytes) -> tuple[list[bytes], int]:
    """Newline-terminated messages (without the newline)."""
    end = buffer.rfind(b"\n") + 1
    return buffer[:end].split(b"\n")[:-1], end


class ProbeRaw(Protocol):
    name = "probe-raw"
    listeners = (DatagramListener("listen_probe"),
                 StreamListener("listen_tcp_probe", lines, max_buffer=4096))

    async def handle(self, message: Message) -> Reply | None:
        body = message.body
        if body == b"bad":
            raise Rejected(600, b"error\n")
        if body == b"boom":
            raise RuntimeError("probe failure")
        if body == b"none":
            return None
        if body.startswith(b"sleep:"):
            await asyncio.sleep(int(body.split(b":")[1]) / 1000)
        if body.startswith(b"size:"):
            body = str(len(body)).encode()
        assert message.local is not None and message.peer is not None
        head = f"{message.transport} {message.local[0]} {message.local[1]} {message.peer[0]}|"
        return Reply(head.encode() + body + (b"\n" if message.transport == "tcp" else b""))


class ProbeSmall(Protocol):
    name = "probe-small"
    listeners = (DatagramListener("listen_probe_small", max_datagram=100),)

    async def handle(self, message: Message) -> Reply:
        return Reply(str(len(message.body)).encode())


class ProbeOnce(Protocol):
    name = "probe-once"
    listeners = (StreamListener("listen_probe_once", lines, close_after_reply=True,
                                max_buffer=16),)

    async def handle(self, message: Message) -> Reply:
        return Reply(b"once:" + message.body + b"\n")


class ProbeOrphan(Protocol):
    name = "probe-orphan"
    listeners = (DatagramListener("listen_nobody_declared"),)

    async def handle(self, message: Message) -> None:
        return None


@hookimpl
def rtpgate_options() -> Iterable[Option]:
    return [Option(name, list[ListenAddress], [], f"test listener {name}", listener=True)
            for name in ("listen-probe", "listen-tcp-probe", "listen-probe-small",
                         "listen-probe-once")]


@hookimpl
def rtpgate_protocols(runtime: Runtime) -> Iterable[Protocol]:
    return [ProbeRaw(), ProbeSmall(), ProbeOnce(), ProbeOrphan()]
