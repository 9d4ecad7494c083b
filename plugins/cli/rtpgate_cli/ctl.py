"""``rtpgate ctl ARGS...``: what Debian's ``rtpengine-ctl`` does, for hosts without Perl.

Connects to the CLI port (``-ip IP[:PORT]``, ``-port PORT``; else ``listen-cli`` of the
``[rtpengine]`` section of ``-config-file``, default ``/etc/rtpengine/rtpengine.conf``; else
127.0.0.1:9900), sends the words joined by spaces and a newline (``usage`` when there are none,
as the newest ``rtpengine-ctl`` does), prints everything received until the server closes.
"""

from __future__ import annotations

import argparse
import configparser
import socket
import sys

from rtpgate.plugins import PluginHost

DEFAULT_CONFIG = "/etc/rtpengine/rtpengine.conf"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9900
TIMEOUT = 3.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtpgate ctl", allow_abbrev=False,
        description="send one command to rtpengine's (or rtpgate's) CLI port and print the reply")
    parser.add_argument("-ip", "--ip", metavar="IP[:PORT]", help="address of the CLI port")
    parser.add_argument("-port", "--port", type=int, help="port of the CLI port")
    parser.add_argument("-config-file", "--config-file", default=DEFAULT_CONFIG, metavar="FILE",
                        help="read listen-cli from [rtpengine] of FILE (default %(default)s)")
    parser.add_argument("words", nargs=argparse.REMAINDER, help="the CLI command")
    return parser


def configured_listen(path: str) -> str | None:
    """``listen-cli`` of the ``[rtpengine]`` section, if the file has one."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return None
    return parser.get("rtpengine", "listen-cli", fallback=None)


def target(ip: str | None, port: int | None, config_file: str) -> tuple[str, int]:
    """rtpengine-ctl's precedence: options, then the config file, then the defaults."""
    listen = configured_listen(config_file)
    if listen:
        if listen.strip().isdigit():
            port = port if port is not None else int(listen)
        else:
            ip = ip if ip is not None else listen.strip()
    if ip:  # a ":PORT" suffix is always cut off, and used when no port was given
        host, sep, tail = ip.rpartition(":")
        if sep and tail.isdigit() and not host.endswith(":"):
            ip, port = host, int(tail) if port is None else port
    host = (ip or DEFAULT_HOST).strip("[]")
    return host, port if port is not None else DEFAULT_PORT


def send(host: str, port: int, line: str, timeout: float = TIMEOUT) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(line.encode("utf-8", "surrogateescape") + b"\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def run(args: list[str], host: PluginHost) -> int:
    options = _parser().parse_args(args)
    address = target(options.ip, options.port, options.config_file)
    if not 0 < address[1] <= 65535:
        print(f"rtpgate ctl: invalid port {address[1]}", file=sys.stderr)
        return 1
    line = " ".join(options.words).strip() or "usage"
    try:
        reply = send(*address, line)
    except OSError as exc:
        print(f"Cannot connect to the rtpengine {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(reply)
    sys.stdout.buffer.flush()
    return 0
