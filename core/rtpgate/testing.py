"""Test support: run a real rtpgate process on loopback with ephemeral ports.

Registered as a pytest plugin (entry point ``pytest11``), so the tests of every rtpgate package
get the :func:`rtpgate_server` fixture (a subprocess), :func:`rtpgate_inprocess` (a server on
the test's event loop) and the helpers that build a runtime from chosen plugins without
entry-point discovery (:func:`make_runtime`, :func:`get_protocol`)::

    def test_ping(rtpgate_server):
        server = rtpgate_server()                   # defaults: HTTP on 127.0.0.1:<free port>
        status, headers, body = server.http("GET", "/ping")

The server is the installed ``rtpgate`` command run with ``python -m rtpgate``; it writes the
addresses it bound to a ready file (``--ready-file``), which is how the test learns its ports.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeVar

import pytest

if TYPE_CHECKING:
    from .plugins import PluginHost
    from .protocol import Protocol
    from .runtime import Runtime
    from .server import Server

try:  # the in-process fixture runs on the test's event loop
    import pytest_asyncio
except ImportError:  # pragma: no cover - only the subprocess fixture then
    pytest_asyncio = None  # type: ignore[assignment]

#: Listener options pointed at port 0 unless the test passes its own.
EPHEMERAL_LISTENERS = ("--listen-http=127.0.0.1:0",)


#: The environment variable that runs every server of the tests with that many workers
#: (``--num-threads``; ``tox -e e2e-workers2``), unless a test chooses its own count.
WORKERS_ENV = "RTPGATE_TEST_WORKERS"


def workers_args(args: Sequence[str]) -> list[str]:
    """``--num-threads=N`` from :data:`WORKERS_ENV`, unless ``args`` choose."""
    count = os.environ.get(WORKERS_ENV)
    if not count or any(a.startswith("--num-threads") for a in args):
        return []
    return [f"--num-threads={int(count)}"]


def worker_count() -> int:
    """How many workers the tests' servers run (:data:`WORKERS_ENV`, else one), for a test
    whose guarantee holds per worker (each worker allocates from its own share of the media
    port range, docs/architecture.md)."""
    return int(os.environ.get(WORKERS_ENV) or 1)


def call_owner(call_id: str) -> int:
    """The index of the worker that owns ``call_id`` among :func:`worker_count` workers (0 at
    one worker), for a test whose guarantee is the owner's, e.g. a view that shows one
    worker's calls (the dashboard)."""
    from .workers.shard import owner

    return owner(call_id, worker_count())


def free_port_block(size: int) -> int:
    """The first port of ``size`` consecutive UDP ports on 127.0.0.1 that are all free now.

    Test suites run in parallel (``tox p``: e2e beside e2e-workers2, compiled and the plugin
    environments), so a fixed media range in a test collides with the same test elsewhere: a
    block is chosen at random below the kernel's ephemeral range (where client sockets would
    take ports from it) and checked by binding every port once."""
    for _ in range(100):
        base = random.randrange(10000, 32768 - size, 2)
        if all(_udp_port_free(port) for port in range(base, base + size)):
            return base
    raise AssertionError(f"no {size} consecutive free UDP ports below 32768")


def media_ports(size: int = 1000) -> list[str]:
    """``--port-min``/``--port-max`` for a free block of ``size`` media ports
    (:func:`free_port_block`)."""
    base = free_port_block(size)
    return [f"--port-min={base}", f"--port-max={base + size - 1}"]


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """One ``rtpgate`` process.  ``args`` are extra command-line options."""

    def __init__(self, args: Sequence[str] = (), env: dict[str, str] | None = None,
                 listeners: Sequence[str] | None = None, workdir: Path | None = None,
                 python: str | None = None) -> None:
        #: The interpreter that runs ``-m rtpgate``: another venv's, to test what it installs.
        self.python = python or sys.executable
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="rtpgate-test-"))
        self.ready_file = self.workdir / "ready.json"
        self.log_file = self.workdir / "server.log"
        given = [a for a in args if a.startswith("--listen-")]
        listen = [] if given else list(EPHEMERAL_LISTENERS if listeners is None else listeners)
        self.args = ["-f", "-E", "--config-file=none", f"--ready-file={self.ready_file}",
                     *listen, *workers_args(args), *args]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.listeners: list[dict[str, object]] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 20.0) -> ServerProcess:
        if any(a.startswith("--num-threads=") and a != "--num-threads=1" for a in self.args):
            timeout *= 3  # the supervisor starts, then each worker does
        log = open(self.log_file, "wb")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([self.python, "-m", "rtpgate", *self.args],
                                     stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.workdir)
        log.close()
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise ServerError(f"rtpgate exited with {self.proc.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"rtpgate not ready after {timeout}s:\n{self.log}")
            time.sleep(0.02)
        self.listeners = json.loads(self.ready_file.read_text())["listeners"]
        return self

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerError(f"rtpgate did not stop on SIGTERM:\n{self.log}") from None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    @property
    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    @property
    def serving_pids(self) -> list[int]:
        """The processes that serve requests and run the plugins' hooks: the workers (from the
        ready file) with ``--num-threads`` above 1, else the one process."""
        workers = json.loads(self.ready_file.read_text()).get("workers", [])
        if workers:
            return [int(w["pid"]) for w in workers]
        assert self.proc is not None
        return [self.proc.pid]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ------------------------------------------------------------------ addresses

    def addresses(self, kind: str) -> list[tuple[str, int]]:
        return [(str(b["host"]), int(b["port"]))  # type: ignore[call-overload]
                for b in self.listeners if b["kind"] == kind]

    def address(self, kind: str = "http") -> tuple[str, int]:
        found = self.addresses(kind)
        if not found:
            raise ServerError(f"no {kind} listener; bound: {self.listeners}")
        return found[0]

    def port(self, kind: str = "http") -> int:
        return self.address(kind)[1]

    def url(self, kind: str = "http", path: str = "/") -> str:
        host, port = self.address(kind)
        scheme = {"https": "https", "http": "http"}.get(kind, kind)
        return f"{scheme}://{host}:{port}{path}"

    def ws_url(self, path: str = "/", secure: bool = False) -> str:
        host, port = self.address("https" if secure else "http")
        return f"{'wss' if secure else 'ws'}://{host}:{port}{path}"

    # ------------------------------------------------------------------ clients

    def http(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None, kind: str = "http", timeout: float = 10.0
             ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: ``(status, lower-cased headers, body)``."""
        host, port = self.address(kind)
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def connect(self, kind: str = "http", timeout: float = 5.0) -> socket.socket:
        """A raw TCP connection to a listener, for byte-exact and hostile tests."""
        sock = socket.create_connection(self.address(kind), timeout=timeout)
        return sock


def plugin_host(*plugins: object) -> PluginHost:
    """A plugin host with core and exactly ``plugins`` registered, in that order: no entry
    point is loaded, so the result does not depend on what else is installed.  A plugin is a
    module or an object with hook implementations; it is named after its module (``__name__``)
    or its class.  One that fails to register is recorded as failed, as at startup."""
    from .boot import core_host

    host = core_host()
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        host.register(plugin, name)
    return host


def make_runtime(*plugins: object, args: Sequence[str] = (),
                 env: dict[str, str] | None = None) -> Runtime:
    """The runtime a server with core and ``plugins`` (see :func:`plugin_host`) would have,
    settings from ``args`` (command-line words) and ``env`` (``RTPGATE_*``; empty by default,
    so the caller's environment does not leak in).  No I/O: nothing is listening."""
    from .boot import boot

    runtime, _ = boot(list(args), env={} if env is None else env, host=plugin_host(*plugins))
    return runtime


def get_protocol(runtime: Runtime, name: str) -> Protocol:
    """The protocol called ``name`` among those the runtime's plugins contribute."""
    found = [p for _, p in runtime.plugins.protocols(runtime) if p.name == name]
    if len(found) != 1:
        raise LookupError(f"{len(found)} protocols named {name!r}")
    return found[0]


class InProcessServer:
    """A server of core and chosen plugins running on the test's own event loop: the real
    transports on real loopback sockets, no subprocess (like aiohttp's ``aiohttp_server``).
    Faster than :class:`ServerProcess` and lets the test look at ``runtime`` while it serves;
    what needs a process of its own (signals, daemonizing, the command line) still needs
    :class:`ServerProcess`."""

    def __init__(self, runtime: Runtime) -> None:
        from .server import Server

        self.runtime = runtime
        self.server: Server = Server(runtime)

    async def start(self) -> InProcessServer:
        self.server.assemble()
        await self.server.start()
        return self

    async def stop(self) -> None:
        await self.server.stop()

    def address(self, kind: str = "http") -> tuple[str, int]:
        """The first address bound for ``kind`` (``http``, ``ng-udp``, ...)."""
        for bound in self.runtime.bound:
            if bound.kind == kind:
                return bound.host, bound.port
        raise LookupError(f"nothing bound for {kind!r}: {self.runtime.bound}")


class RawResponse(NamedTuple):
    """One HTTP response as read off a raw socket."""

    status_line: bytes
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status(self) -> int:
        return int(self.status_line.split(b" ")[1])

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def read_response(reader: BinaryIO, head_only: bool = False) -> RawResponse:
    """Read exactly one response from ``reader`` (``sock.makefile("rb")``, kept for the whole
    connection so pipelined responses are not lost in a discarded buffer).  Raises
    ``ConnectionError`` when the peer closed before a status line."""
    status_line = reader.readline().rstrip(b"\r\n")
    if not status_line:
        raise ConnectionError("connection closed before a response")
    headers = []
    while line := reader.readline().rstrip(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name, value.strip()))
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    body = b"" if head_only else reader.read(length)
    return RawResponse(status_line, headers, body)


def expect_close(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Everything the peer sends before it closes or resets the connection; fails (raises
    ``AssertionError``) when it is still open after ``timeout`` seconds without data."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while data := sock.recv(65536):
            chunks.append(data)
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"connection still open after {timeout}s") from None
    return b"".join(chunks)


def self_signed_cert(directory: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    """Make a self-signed certificate and key for ``name`` with the openssl CLI; returns their
    paths (PEM)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName=IP:{name}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def recv_until_closed(sock: socket.socket, limit: int = 1 << 20, timeout: float = 5.0) -> bytes:
    """Read until the peer closes or resets the connection (or ``timeout`` passes without
    data)."""
    sock.settimeout(timeout)
    chunks = []
    total = 0
    try:
        while total < limit:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
            total += len(data)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def probe_fixtures(module: str, directory: Path) -> tuple[object, object]:
    """Fixtures for tests that load test-only protocols from ``module`` (a file in
    ``directory``) with ``--plugin``.  Assign them in a ``conftest.py``::

        probe_server, shared_server = probe_fixtures("probe_ws", Path(__file__).parent)

    ``probe_server(*args)`` starts a server with the module and the extra options (stopped at
    the end of the test); ``shared_server`` is one such server for all the tests of a module
    that only read from it."""
    env = {"PYTHONPATH": str(directory)}
    plugin_args = (f"--plugin={module}",)

    @pytest.fixture
    def probe_server(rtpgate_server: Callable[..., ServerProcess]
                     ) -> Callable[..., ServerProcess]:
        def start(*args: str) -> ServerProcess:
            return rtpgate_server(*plugin_args, *args, env=env)
        return start

    @pytest.fixture(scope="module")
    def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
        server = ServerProcess(plugin_args, env=env,
                               workdir=tmp_path_factory.mktemp("shared-server")).start()
        yield server
        assert server.stop() == 0, server.log

    return probe_server, shared_server


# ---------------------------------------------------------------------- waiting, daemons

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something true (returned) or ``timeout`` seconds
    pass (the test fails, naming ``what``): tests poll with a deadline, never sleep a guess."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Daemon:
    """``rtpgate`` started as init systems start it, without ``--foreground``: :meth:`start`
    returns when the parent exits (its status and stderr are the result).  The daemon's pid is
    read from its pid file or ready file in ``workdir``.  :meth:`stop` ends every daemon
    started, and the :func:`rtpgate_daemon` fixture calls it whatever happened to the test
    (failure, interruption), so no daemon outlives its test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pidfile = workdir / "rtpgate.pid"
        self.ready = workdir / "ready.json"
        self.pids: set[int] = set()

    def start(self, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
        """Run ``rtpgate --config-file=none --pidfile=... --ready-file=... ARGS``."""
        try:
            return subprocess.run(
                [sys.executable, "-m", "rtpgate", "--config-file=none",
                 f"--pidfile={self.pidfile}", f"--ready-file={self.ready}", *args],
                capture_output=True, text=True, timeout=60, cwd=self.workdir,
                env={**os.environ, **(env or {})})
        finally:
            self._note_pid()

    @property
    def pid(self) -> int:
        """The detached daemon's pid (its pid file, written before the parent returned)."""
        return int(self.pidfile.read_text())

    def _note_pid(self) -> None:
        for read in (lambda: int(self.pidfile.read_text()),
                     lambda: int(json.loads(self.ready.read_text())["pid"])):
            with contextlib.suppress(OSError, ValueError, KeyError):  # not written (yet)
                self.pids.add(read())

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM every daemon started and wait until it is gone (SIGKILL after
        ``timeout``)."""
        self._note_pid()
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(pid_alive(pid) for pid in self.pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def rtpgate_daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A :class:`Daemon` in the test's directory; every daemon it started is stopped at the
    end, also when the test fails or is interrupted."""
    daemon = Daemon(tmp_path)
    try:
        yield daemon
    finally:
        daemon.stop()


# ---------------------------------------------------------------------- calls and media

#: Where test parties live.
LOCAL = "127.0.0.1"
#: rtpmap lines :func:`audio_sdp` writes for these payload types.
RTPMAP = {0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000"}


def ng_json(server: ServerProcess, command: str, **keys: Any) -> dict[str, Any]:
    """One ng request as JSON over ``POST /ng-plain`` (a key's ``_`` is sent as ``-``:
    ``call_id`` is ``call-id``); the decoded reply.  The server needs the http and ng-plain
    plugins."""
    body = json.dumps({"command": command, **{k.replace("_", "-"): v for k, v in keys.items()}})
    status, _, reply = server.http("POST", "/ng-plain", body.encode(),
                                   {"Content-Type": "application/json"})
    assert status == 200, reply
    decoded: dict[str, Any] = json.loads(reply)
    return decoded


def cli_text(server: ServerProcess, line: str) -> str:
    """One CLI command over ``POST /cli`` on a fresh connection; the reply's text.  The server
    needs the http and cli plugins."""
    status, _, body = server.http("POST", "/cli", line.encode(), {"Content-Type": "text/plain"})
    assert status == 200, body
    return body.decode()


def audio_sdp(user: str, port: int, payload_types: Sequence[int] = (0, 8),
              extra: str = "") -> str:
    """A party's audio SDP on :data:`LOCAL` ``port`` (RTCP implicitly on ``port + 1``): the
    payload types with their rtpmap lines, ``extra`` attribute lines, ``a=sendrecv``."""
    rtpmaps = "".join(f"a=rtpmap:{pt} {RTPMAP[pt]}\r\n" for pt in payload_types)
    return (f"v=0\r\no={user} 1 1 IN IP4 {LOCAL}\r\ns=-\r\nc=IN IP4 {LOCAL}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP {' '.join(map(str, payload_types))}\r\n{rtpmaps}{extra}"
            "a=sendrecv\r\n")


def relay_address(reply: dict[str, Any]) -> tuple[str, int]:
    """Where a party sends its RTP: the host of the last ``c=`` line and the first audio
    ``m=`` port of a reply's rewritten SDP."""
    text = reply["sdp"]
    port = re.search(r"^m=audio (\d+) ", text, re.M)
    host = re.findall(r"^c=IN IP4 (\S+)", text, re.M)
    assert port and host, text
    return host[-1], int(port.group(1))


def udp_pair(timeout: float | None = None) -> tuple[socket.socket, socket.socket]:
    """RTP and RTCP sockets on consecutive :data:`LOCAL` ports, the first even; non-blocking,
    or with ``timeout``."""
    while True:
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((LOCAL, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((LOCAL, port + 1))
            except OSError:
                rtcp.close()
            else:
                for sock in (rtp, rtcp):
                    if timeout is None:
                        sock.setblocking(False)
                    else:
                        sock.settimeout(timeout)
                return rtp, rtcp
        rtp.close()


def rtp_packet(seq: int, ssrc: int, payload_type: int = 0, payload: bytes = b"\xff" * 160
               ) -> bytes:
    """An RTP packet (RFC 3550): version 2, ``seq``, timestamp ``seq * 160``, ``ssrc``."""
    return struct.pack("!BBHII", 0x80, payload_type, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF,
                       ssrc) + payload


@dataclass
class MediaParty:
    """One side of a test call: RTP and RTCP sockets on consecutive ports (:func:`udp_pair`),
    the relay address it sends its RTP to, its SSRC and its last sequence number."""

    rtp: socket.socket
    rtcp: socket.socket
    ssrc: int = 0
    relay: tuple[str, int] = (LOCAL, 0)
    seq: int = 0

    @classmethod
    def open(cls, ssrc: int = 0, timeout: float | None = None) -> MediaParty:
        """A party on new sockets (non-blocking, or with ``timeout``)."""
        return cls(*udp_pair(timeout), ssrc=ssrc)

    @property
    def port(self) -> int:
        """The party's RTP port (the one its SDP names)."""
        return int(self.rtp.getsockname()[1])

    def packet(self) -> bytes:
        """The party's next RTP packet (:func:`rtp_packet`)."""
        self.seq = (self.seq + 1) & 0xFFFF
        return rtp_packet(self.seq, self.ssrc)

    def send(self) -> None:
        """Send the next RTP packet to the relay."""
        self.rtp.sendto(self.packet(), self.relay)

    def drain(self) -> int:
        """Read what waits on both sockets; the number of RTP packets read."""
        count = 0
        for sock in (self.rtp, self.rtcp):
            while True:
                try:
                    sock.recv(2048)
                except OSError:  # nothing more waiting (or the socket's timeout passed)
                    break
                count += sock is self.rtp
        return count

    def close(self) -> None:
        self.rtp.close()
        self.rtcp.close()


@pytest.fixture
def rtpgate_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory fixture: ``rtpgate_server(*args, env=None, python=None)`` starts a server; every
    server it started is stopped at the end of the test, which fails if one did not exit cleanly."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None,
              listeners: Sequence[str] | None = None, python: str | None = None
              ) -> ServerProcess:
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        server = ServerProcess(args, env=env, listeners=listeners, workdir=workdir,
                               python=python)
        started.append(server)
        return server.start()

    yield start
    problems = []
    for server in started:
        if server.proc is None or server.proc.returncode is not None:
            continue
        code = server.stop()
        if code != 0:
            problems.append(f"rtpgate exited with {code}:\n{server.log}")
    if problems:
        pytest.fail("\n".join(problems))


if pytest_asyncio is not None:
    @pytest_asyncio.fixture
    async def rtpgate_inprocess() -> AsyncIterator[Callable[..., Awaitable[InProcessServer]]]:
        """Factory fixture: ``await rtpgate_inprocess(*plugins, args=(), listeners=...)``
        starts an :class:`InProcessServer` with core and ``plugins`` (no entry-point discovery,
        see :func:`make_runtime`) on the test's loop; ``listeners`` default to HTTP on an
        ephemeral loopback port.  Every server it started is stopped after the test."""
        started: list[InProcessServer] = []

        async def start(*plugins: object, args: Sequence[str] = (),
                        listeners: Sequence[str] = EPHEMERAL_LISTENERS) -> InProcessServer:
            server = InProcessServer(make_runtime(*plugins, args=[*listeners, *args]))
            started.append(server)
            return await server.start()

        yield start
        for server in reversed(started):
            await server.stop()
