"""``rtpgate ctl ARGS...``: what Debian's ``rtpengine-ctl`` does, for hosts without Perl.

Sends the words joined by spaces and a newline (``usage`` when there are none, as the newest
``rtpengine-ctl`` does) to the CLI port and prints everything received until the server closes.

Where the CLI port is, first found wins: ``-ip IP[:PORT]`` / ``-port PORT``; ``RTPGATE_LISTEN_CLI``
(the server's own variable, e.g. from /etc/default/rtpgate); ``listen-cli`` in ``[rtpengine]`` of
``-config-file`` (else ``RTPGATE_CONFIG_FILE``, else rtpengine-ctl's default
``/etc/rtpengine/rtpengine.conf`` when it exists); else 127.0.0.1:9900, what a default rtpgate
listens on.  A default server reads no config file, so when the address came only from the
default file and nothing answers there, 127.0.0.1:9900 is tried too.  A failure names every
address tried and where each came from.
"""

from __future__ import annotations

import argparse
import configparser
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from rtpgate.api import PluginHost

DEFAULT_CONFIG = "/etc/rtpengine/rtpengine.conf"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 9900
DEFAULT_SOURCE = "the default of rtpgate's --listen-cli"
TIMEOUT = 3.0


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    #: Where the address came from, for error messages.
    source: str

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtpgate ctl", allow_abbrev=False,
        description="send one command to rtpengine's (or rtpgate's) CLI port and print the "
                    "reply; the address is -ip/-port, else RTPGATE_LISTEN_CLI, else listen-cli "
                    "of the config file, else 127.0.0.1:9900",
        epilog="example: rtpgate ctl list totals")
    parser.add_argument("-ip", "--ip", metavar="IP[:PORT]", help="address of the CLI port")
    parser.add_argument("-port", "--port", type=int, help="port of the CLI port")
    parser.add_argument("-config-file", "--config-file", metavar="FILE",
                        help="read listen-cli from [rtpengine] of FILE (default: "
                             f"$RTPGATE_CONFIG_FILE, else {DEFAULT_CONFIG} if it exists)")
    parser.add_argument("words", nargs=argparse.REMAINDER, help="the CLI command")
    return parser


def configured_listen(path: str) -> str | None:
    """The first ``listen-cli`` address of the ``[rtpengine]`` section, if the file has one."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return None
    value = parser.get("rtpengine", "listen-cli", fallback=None)
    return _first(value)


def _first(value: str | None) -> str | None:
    """rtpgate's list options may name several addresses (``;``): the first one."""
    if value is None:
        return None
    return next((part.strip() for part in value.split(";") if part.strip()), None)


def targets(ip: str | None, port: int | None, config_file: str | None,
            env: Mapping[str, str]) -> list[Target]:
    """Where to connect, in order (a second one only as the fallback described above).

    rtpengine-ctl's merging: ``-ip``/``-port`` win part by part; a configured bare port fills in
    the port, a configured address (with its port) only when ``-ip`` was not given."""
    given_ip, given_port = ip, port
    listen = _first(env.get("RTPGATE_LISTEN_CLI"))
    implicit = False
    if listen:
        configured = "environment RTPGATE_LISTEN_CLI"
    else:
        implicit = config_file is None and "RTPGATE_CONFIG_FILE" not in env
        path = config_file or env.get("RTPGATE_CONFIG_FILE") or DEFAULT_CONFIG
        listen = configured_listen(path) if os.path.exists(path) else None
        configured = f"listen-cli in [rtpengine] of {path}"
    used_config = False
    if listen:
        if listen.strip().isdigit():
            used_config = port is None
            port = port if port is not None else int(listen)
        elif ip is None:
            used_config, ip = True, listen.strip()
    if ip:  # a ":PORT" suffix is always cut off, and used when no port was given
        head, sep, tail = ip.rpartition(":")
        if sep and tail.isdigit() and not head.endswith(":"):
            ip, port = head, int(tail) if port is None else port
    sources = [name for name, used in (("-ip", given_ip), ("-port", given_port is not None),
                                       (configured, used_config)) if used]
    if ip is None or port is None:
        sources.append(DEFAULT_SOURCE)
    found = Target((ip or DEFAULT_HOST).strip("[]"), port if port is not None else DEFAULT_PORT,
                   ", ".join(sources))
    default = Target(DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SOURCE)
    if implicit and used_config and given_ip is None and given_port is None \
            and (found.host, found.port) != (default.host, default.port):
        return [found, default]
    return [found]


def target(ip: str | None, port: int | None, config_file: str) -> tuple[str, int]:
    """The first address :func:`targets` gives for an explicit config file."""
    first = targets(ip, port, config_file, {})[0]
    return first.host, first.port


def send(host: str, port: int, line: str, timeout: float = TIMEOUT) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(line.encode("utf-8", "surrogateescape") + b"\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def run(args: list[str], host: PluginHost) -> int:
    options = _parser().parse_args(args)
    tried = targets(options.ip, options.port, options.config_file, os.environ)
    line = " ".join(options.words).strip() or "usage"
    failures = []
    for each in tried:
        if not 0 < each.port <= 65535:
            print(f"rtpgate ctl: invalid port {each.port} (from {each.source})", file=sys.stderr)
            return 1
        try:
            reply = send(each.host, each.port, line)
        except OSError as exc:
            failures.append(f"{each} ({each.source}): {exc.strerror or exc}")
            continue
        sys.stdout.buffer.write(reply)
        sys.stdout.buffer.flush()
        return 0
    print("Cannot connect to the rtpengine at " + "; nor at ".join(failures), file=sys.stderr)
    return 1
