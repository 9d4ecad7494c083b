"""ng clients and SDP builders for the engine's end-to-end tests (a real rtpgate process, real
HTTP and WebSocket connections, real sockets)."""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Any

import websockets
from rtpgate.ngcommands import codec
from rtpgate.testing import ServerProcess
from rtpgate.workers.shard import owner

NG = {"Content-Type": "application/x-rtpengine-ng"}
CALLER_IP = "192.168.10.21"
CALLEE_IP = "10.20.30.40"


def cookie() -> bytes:
    return uuid.uuid4().hex[:12].encode()


def ng(server: ServerProcess, msg: dict[str, Any], fmt: str = "bencode") -> dict[str, Any]:
    """One ng request over HTTP ``POST /ng``; the decoded reply (its cookie checked)."""
    ck = cookie()
    body = ck + b" " + (json.dumps(msg).encode() if fmt == "json"
                        else codec.encode(msg, "bencode"))
    status, _, reply = server.http("POST", "/ng", body, NG)
    assert status == 200, reply
    got, _, payload = reply.partition(b" ")
    assert got == ck, reply
    decoded, got_fmt = codec.decode(payload)
    assert got_fmt == fmt
    return decoded


async def ws_ng(server: ServerProcess, msgs: Iterable[dict[str, Any]], fmt: str = "bencode"
                ) -> list[dict[str, Any]]:
    """The requests over one WebSocket ``ng.rtpengine.com`` connection, one after the other."""
    out = []
    protocols = [websockets.Subprotocol("ng.rtpengine.com")]
    async with websockets.connect(server.ws_url(), subprotocols=protocols) as ws:
        for msg in msgs:
            ck = cookie()
            payload = json.dumps(msg).encode() if fmt == "json" else codec.encode(msg, "bencode")
            await ws.send(ck + b" " + payload)
            reply = await ws.recv()
            assert isinstance(reply, bytes)
            got, _, body = reply.partition(b" ")
            assert got == ck
            decoded, _ = codec.decode(body)
            out.append(decoded)
    return out


def sdp(user: str = "alice", ip: str = CALLER_IP, port: int = 16384, version: int = 1,
        codecs: str = "0 8 101", media: str | None = None, session: str = "",
        extra: str = "") -> str:
    """An audio SDP; ``media`` replaces the default attribute lines, ``extra`` adds sections."""
    if media is None:
        media = ("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                 "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
                 "a=sendrecv\r\n")
    return (f"v=0\r\no={user} 3724394400 {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\n"
            f"t=0 0\r\n{session}m=audio {port} RTP/AVP {codecs}\r\n{media}{extra}")


def answer_sdp(port: int = 20000, **kw: Any) -> str:
    return sdp(user="bob", ip=CALLEE_IP, port=port, **kw)


def new_call_id() -> str:
    return "call-" + uuid.uuid4().hex[:10]


def call_id_on(worker: int, workers: int) -> str:
    """A fresh call-id that worker ``worker`` of ``workers`` owns."""
    while True:
        call_id = new_call_id()
        if owner(call_id, workers) == worker:
            return call_id


def offer(server: ServerProcess, call_id: str, from_tag: str = "ft", **keys: Any
          ) -> dict[str, Any]:
    msg = {"command": "offer", "call-id": call_id, "from-tag": from_tag,
           "sdp": keys.pop("sdp", None) or sdp()}
    msg.update({k.replace("_", "-"): v for k, v in keys.items()})
    return ng(server, msg)


def answer(server: ServerProcess, call_id: str, from_tag: str = "ft", to_tag: str = "tt",
           **keys: Any) -> dict[str, Any]:
    msg = {"command": "answer", "call-id": call_id, "from-tag": from_tag, "to-tag": to_tag,
           "sdp": keys.pop("sdp", None) or answer_sdp()}
    msg.update({k.replace("_", "-"): v for k, v in keys.items()})
    return ng(server, msg)


def delete(server: ServerProcess, call_id: str, **keys: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"command": "delete", "call-id": call_id}
    msg.update({k.replace("_", "-"): v for k, v in keys.items()})
    return ng(server, msg)


def media_port(reply: dict[str, Any], index: int = 0) -> int:
    ports = re.findall(r"^m=\S+ (\d+)", reply["sdp"], re.M)
    return int(ports[index])


def rtcp_port(reply: dict[str, Any]) -> int:
    found = re.search(r"^a=rtcp:(\d+)", reply["sdp"], re.M)
    assert found, reply["sdp"]
    return int(found.group(1))


def ports_in_use(server: ServerProcess) -> int:
    """The server's used media ports, from ng ``statistics`` (interfaces[].ports.used)."""
    stats = ng(server, {"command": "statistics"})["statistics"]
    return sum(int(i["ports"]["used"]) for i in stats["interfaces"])


def open_fds(server: ServerProcess, expect: int | None = None) -> int:
    """The server's open descriptors once its count has settled: the server closes a finished
    client connection a moment after the client does, so the count is read until it equals
    ``expect`` or has not changed for half a second (at most ten seconds)."""
    assert server.proc is not None
    path = f"/proc/{server.proc.pid}/fd"
    count, since = len(os.listdir(path)), time.monotonic()
    deadline = since + 10
    while time.monotonic() < deadline and count != expect:
        time.sleep(0.05)
        now_count = len(os.listdir(path))
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif expect is None and time.monotonic() - since >= 0.5:
            break
    return count


def bindable(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def cli(server: ServerProcess, line: str) -> str:
    """A CLI command over ``GET /cli/...`` (rtpengine takes any one character between words)."""
    status, _, body = server.http("GET", "/cli/" + line.replace(" ", "+"))
    assert status == 200, body
    return body.decode()
