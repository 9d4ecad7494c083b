"""The parent of the workers (``--num-threads`` above 1): starts them, restarts one that dies,
passes signals on, and is what the daemon's parent, systemd and the ready file see.

Every worker binds the same listener addresses with ``SO_REUSEPORT``.  A listener given with
port 0 gets its port here first: the supervisor binds that address (TCP, not listening, and
UDP, each with ``SO_REUSEPORT``) to reserve a port free for both, hands the workers the address
with that port, and closes its own sockets once they all listen (before the ready file says
so, so no datagram is ever queued on the supervisor's socket).  A restarted worker rebinds the
ports its siblings hold.  The supervisor does no request work: it sleeps in a loop that reaps
and restarts workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import sdnotify
from ..config import ConfigError, CoreSettings
from ..netaddr import parse_endpoint
from ..runtime import Runtime
from .shard import SPEC_ENV, WorkerSpec, port_share

log = logging.getLogger("rtpgate.workers")

#: How long all workers together may take to start.
START_TIMEOUT = 120.0
#: A worker that dies sooner than this after starting is restarted only after this long.
RESTART_BACKOFF = 1.0
PR_SET_PDEATHSIG = 1


def worker_count(configured: int) -> int:
    """``--num-threads``: 0 is one worker per core this process may run on."""
    if configured:
        return configured
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


class StartError(OSError):
    """A worker did not start (its own log says why)."""


def _die_with_parent() -> None:
    """In the worker before ``exec``: SIGTERM when the supervisor goes, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _reserve(host: str) -> tuple[int, list[socket.socket]]:
    """A port on ``host`` that is free for TCP and UDP, held by ``SO_REUSEPORT`` sockets."""
    infos = socket.getaddrinfo(host or None, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                               socket.AI_PASSIVE)
    family, address = infos[0][0], infos[0][4][0]
    for _ in range(50):
        held: list[socket.socket] = []
        try:
            for sock_type in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                sock = socket.socket(family, sock_type)
                held.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((address, held[0].getsockname()[1] if len(held) > 1 else 0))
            return int(held[0].getsockname()[1]), held
        except OSError:
            for sock in held:
                sock.close()
    raise OSError(f"no port free for TCP and UDP on {host or 'the wildcard address'}")


def _with_port(text: str, port: int) -> str:
    endpoint = parse_endpoint(text)
    if not endpoint.host:
        return str(port)
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{host}:{port}"


class Supervisor:
    """Starts ``count`` workers running ``argv`` and keeps them running until a stop signal."""

    def __init__(self, argv: list[str], runtime: Runtime, count: int) -> None:
        self.argv = argv
        self.runtime = runtime
        self.count = count
        self.settings = runtime.settings.view(CoreSettings)
        self.link_dir = tempfile.mkdtemp(prefix="rtpgate-workers-")
        self.specs: list[WorkerSpec] = []
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self.started: list[float] = [0.0] * count
        self._held: list[socket.socket] = []
        self._signals: list[int] = []

    # ------------------------------------------------------------------ set-up

    def _listeners(self) -> dict[str, list[str]]:
        """Every listener option's addresses, port 0 replaced by a reserved port."""
        found: dict[str, list[str]] = {}
        for option in self.runtime.options:
            if not option.listener:
                continue
            addresses = self.runtime.settings.named(option.field_name) or []
            rewritten = []
            for text in addresses:
                endpoint = parse_endpoint(text)
                if endpoint.port == 0:
                    port, held = _reserve(endpoint.host)
                    self._held += held
                    text = _with_port(text, port)
                rewritten.append(text)
            found[option.field_name] = rewritten
        return found

    def _specs(self) -> list[WorkerSpec]:
        listeners = self._listeners()
        low = self.runtime.settings.named("port_min", 0)
        high = self.runtime.settings.named("port_max", 0)
        specs = []
        instance_id = secrets.token_hex(6)
        for index in range(self.count):
            try:
                share = port_share(low, high, index, self.count) if high else (0, 0)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            specs.append(WorkerSpec(index, self.count, self.link_dir,
                                    f"{self.link_dir}/ready-{index}.json", listeners, *share,
                                    instance_id))
        return specs

    def _spawn(self, index: int) -> None:
        spec = self.specs[index]
        for path in (spec.ready_file, spec.failure_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        # Only the supervisor speaks to systemd (READY=1 once all listen, its own MAINPID,
        # STOPPING=1): a worker's READY=1 would come too early, its MAINPID would name itself.
        env = {**{k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
               SPEC_ENV: spec.to_env()}
        self.procs[index] = subprocess.Popen(
            [sys.executable, "-m", "rtpgate", *self.argv], env=env,
            preexec_fn=_die_with_parent)
        self.started[index] = time.monotonic()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        for index, spec in enumerate(self.specs):
            while not os.path.exists(spec.ready_file):
                proc = self.procs[index]
                if proc is not None and proc.poll() is not None:
                    try:
                        why = Path(spec.failure_file).read_text(encoding="utf-8")
                    except OSError:
                        why = f"exited with {proc.returncode} while starting"
                    raise StartError(f"worker {index}: {why}")
                if time.monotonic() > deadline or self._signals:
                    raise StartError(f"worker {index} not ready after {START_TIMEOUT:.0f} s")
                time.sleep(0.02)

    def _write_ready_file(self) -> None:
        path = self.settings.ready_file
        if not path:
            return
        first = json.loads(Path(self.specs[0].ready_file).read_text())
        data: dict[str, Any] = {
            "pid": os.getpid(), "listeners": first["listeners"],
            "workers": [{"index": i, "pid": p.pid if p else None,
                         "port_min": s.port_min, "port_max": s.port_max}
                        for i, (s, p) in enumerate(zip(self.specs, self.procs, strict=True))]}
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    # ------------------------------------------------------------------ running

    def run(self, on_ready: Callable[[], None]) -> int:
        """Start the workers, report ready, supervise until SIGTERM/SIGINT; the exit status."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._note_signal)
        try:
            self.specs = self._specs()
            for index in range(self.count):
                self._spawn(index)
            self._wait_ready()
            for sock in self._held:
                sock.close()
            self._held.clear()
            self._write_ready_file()
            log.log(25, "rtpgate ready, pid %d, %d workers (pids %s)", os.getpid(), self.count,
                    ", ".join(str(p.pid) for p in self.procs if p))
            on_ready()
            sdnotify.ready(f"serving with {self.count} workers")
            self._supervise()
            return self._stop()
        except BaseException:
            self._stop()
            raise
        finally:
            for sock in self._held:
                sock.close()
            shutil.rmtree(self.link_dir, ignore_errors=True)

    def _note_signal(self, signum: int, _frame: object) -> None:
        self._signals.append(signum)

    def _supervise(self) -> None:
        while True:
            while self._signals:
                signum = self._signals.pop(0)
                if signum != signal.SIGHUP:
                    return
                self._send(signal.SIGHUP)  # the workers reopen their log files
            for index, proc in enumerate(self.procs):
                if proc is None or proc.poll() is None:
                    continue
                log.error("worker %d (pid %d) exited with %s; restarting it", index, proc.pid,
                          proc.returncode)
                if time.monotonic() - self.started[index] < RESTART_BACKOFF:
                    time.sleep(RESTART_BACKOFF)
                self._spawn(index)
                self._note_restart(index)
            time.sleep(0.1)

    def _note_restart(self, index: int) -> None:
        """Update the ready file once the restarted worker listens (for operators' tools)."""
        spec = self.specs[index]
        deadline = time.monotonic() + START_TIMEOUT
        proc = self.procs[index]
        while not os.path.exists(spec.ready_file) and time.monotonic() < deadline:
            if proc is None or proc.poll() is not None or self._signals:
                return
            time.sleep(0.02)
        with contextlib.suppress(OSError, ValueError):
            self._write_ready_file()

    def _send(self, signum: int) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)

    def _stop(self) -> int:
        """SIGTERM to every worker (a second signal to us is passed on: the drain's "stop
        now"), wait, and exit 0 when they all did."""
        sdnotify.stopping("shutting down")
        self._send(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_deadline + 20.0
        status = 0
        for proc in self.procs:
            if proc is None:
                continue
            while proc.poll() is None and time.monotonic() < deadline:
                if self._signals:
                    self._signals.clear()
                    self._send(signal.SIGTERM)
                time.sleep(0.05)
            if proc.poll() is None:
                log.error("worker pid %d did not stop; killing it", proc.pid)
                proc.kill()
                proc.wait()
            if proc.returncode not in (0, -signal.SIGTERM):
                status = 1
        self.procs = [None] * self.count
        return status
