"""Starting and stopping the servers a benchmark compares, for the scripts of this folder
(they import it by path: ``from servers import ...`` works when run as ``bench/<script>.py``).

    with rtpgate(["--listen-ng=127.0.0.1:0", "--delete-delay=0"]) as gate:
        ...  # gate.pid, gate.port("ng-udp")
    with reference_rtpengine("--delete-delay=0 --log-level=5") as pid:
        ...  # rtpengine answers on its default ports (HTTP 8080, ng UDP 2223, ...)

rtpgate runs as ``python -m rtpgate`` from the interpreter running the benchmark; rtpengine 10.5
is started by ``../shared/tools/start-rtpengine.sh``.  Both are stopped (and waited for) on
leaving the block, whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(os.environ.get("RTPGATE_SHARED", Path(__file__).resolve().parent.parent.parent
                             / "shared"))
TOOLS = SHARED / "tools"
START_RTPENGINE = TOOLS / "start-rtpengine.sh"

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- processes

def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None when
    there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Whether ``pid`` runs.  A zombie counts as gone: rtpengine is re-parented when its start
    script exits, and nothing may reap it.  A process whose main thread has exited is a zombie
    while its other threads still run (and hold its sockets), so each thread is looked at."""
    fields = _stat(pid)
    if fields is None:
        return False
    if fields[0] != "Z":
        return True
    try:
        threads = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return False
    for thread in threads:
        try:
            state = Path(f"/proc/{pid}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if state and state[0] not in ("Z", "X"):
            return True
    return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far."""
    fields = _stat(pid)
    if fields is None:
        raise ProcessLookupError(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def has_uvloop() -> bool:
    """Whether uvloop is installed for this interpreter, hence whether the rtpgate it starts
    runs on uvloop (rtpgate uses it where it is installed)."""
    return importlib.util.find_spec("uvloop") is not None


# ---------------------------------------------------------------------- rtpgate

@dataclass(frozen=True)
class Listener:
    kind: str  #: e.g. ``http``, ``https``, ``ng-udp``
    host: str
    port: int


@dataclass(frozen=True)
class Rtpgate:
    """A running rtpgate, as its ready file describes it."""

    pid: int
    listeners: tuple[Listener, ...]
    #: The worker processes' pids with ``--num-threads`` above 1 (empty: one process, ``pid``).
    workers: tuple[int, ...] = ()

    @property
    def busy_pids(self) -> tuple[int, ...]:
        """The processes that do the work: the workers, or the one process."""
        return self.workers or (self.pid,)

    def port(self, kind: str) -> int:
        """The port of the first listener of ``kind``."""
        for listener in self.listeners:
            if listener.kind == kind:
                return listener.port
        raise LookupError(f"rtpgate has no {kind} listener: {self.listeners}")


@contextlib.contextmanager
def rtpgate(options: Sequence[str], timeout: float = 20, *,
            python_relay: bool = False, env: dict[str, str] | None = None
            ) -> Iterator[Rtpgate]:
    """``python -m rtpgate -f -E --config-file=none OPTIONS``, once it has bound its listeners
    (it writes ``--ready-file`` then); SIGTERM and wait on leaving, SIGKILL if it hangs.  Its
    output is discarded, so that logging costs it what it costs in production, no more.
    ``python_relay``: with ``RTPGATE_NATIVE_RELAY=0`` (the relay's pure-Python read loop even
    where the C one is built); ``env``: variables set for it beside the bench's own."""
    extra = {**(env or {}), **({"RTPGATE_NATIVE_RELAY": "0"} if python_relay else {})}
    env = {**os.environ, **extra} if extra else None
    with tempfile.TemporaryDirectory(prefix="rtpgate-bench-") as tmp:
        ready = Path(tmp) / "ready.json"
        proc = subprocess.Popen([sys.executable, "-m", "rtpgate", "-f", "-E",
                                 "--config-file=none", f"--ready-file={ready}", *options],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"rtpgate exited with {proc.returncode} (options: "
                                       f"{' '.join(options)})")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rtpgate not ready after {timeout:g} s")
                time.sleep(0.05)
            data = json.loads(ready.read_text())
            yield Rtpgate(data["pid"], tuple(Listener(**b) for b in data["listeners"]),
                          tuple(int(w["pid"]) for w in data.get("workers", ())))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise


# ---------------------------------------------------------------------- helper port blocks

#: A helper's block K of ports: listeners 41000 + 100 K .. + 99, media 20000 + 1000 K .. + 999
#: (rtpengine the lower half of the media range, rtpgate the upper), so that a bench run next to
#: other work on the machine (each with its own K) meets no one's ports.


def block_rtpengine_ng(block: int) -> int:
    return 41000 + 100 * block + 23


def block_rtpengine_extra(block: int) -> str:
    """rtpengine's options for block ``block`` (``--delete-delay=0`` included)."""
    listen, media = 41000 + 100 * block, 20000 + 1000 * block
    return (f"--delete-delay=0 --listen-ng=127.0.0.1:{listen + 23} "
            f"--listen-tcp-ng=127.0.0.1:{listen + 24} --listen-cli=127.0.0.1:{listen + 90} "
            f"--listen-http=127.0.0.1:{listen + 80} --listen-https=127.0.0.1:{listen + 43} "
            f"--port-min={media} --port-max={media + 499}")


def block_rtpgate_ng(block: int) -> int:
    return 41000 + 100 * block + 50


def block_rtpgate_args(block: int) -> tuple[str, ...]:
    """rtpgate's options for block ``block`` (``--delete-delay=0``, log level 5)."""
    listen, media = 41000 + 100 * block, 20000 + 1000 * block
    return (f"--listen-ng=127.0.0.1:{listen + 50}", f"--listen-http=127.0.0.1:{listen + 51}",
            "--interface=127.0.0.1", f"--port-min={media + 500}", f"--port-max={media + 999}",
            "--delete-delay=0", "--log-level=5")


# ---------------------------------------------------------------------- rtpengine

def rtpengine_available() -> bool:
    return shutil.which("rtpengine") is not None and START_RTPENGINE.exists()


def _ping_url(extra_options: str) -> str:
    """rtpengine's ``/ping`` URL: on the ``--listen-http`` of the options, else the default."""
    moved = re.search(r"--listen-http=(?:(\S+):)?(\d+)", extra_options)
    host, port = (moved.group(1) or "127.0.0.1", moved.group(2)) if moved else ("127.0.0.1",
                                                                                 "8080")
    return f"http://{host}:{port}/ping"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # something answered, if not with 200
    except OSError:
        return False


def _wait_for_pong(url: str, pid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.read() == b"pong\n":
                return
        if not alive(pid):
            raise RuntimeError(f"rtpengine (pid {pid}) exited before answering {url}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"rtpengine (pid {pid}) does not answer {url}")
        time.sleep(0.1)


def _stop(pid: int) -> None:
    """SIGTERM, wait up to 10 s, then SIGKILL: nothing is left running."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        for _ in range(100):
            if not alive(pid):
                return
            time.sleep(0.1)


@contextlib.contextmanager
def reference_rtpengine(extra_options: str) -> Iterator[int]:
    """rtpengine 10.5 with ``extra_options`` (``RTPE_EXTRA``: e.g. ``--listen-ng=...``,
    ``--listen-https=...`` to move its ports), once ``/ping`` answers on its HTTP listener;
    yields its pid.  Refuses (SystemExit) when something already answers there, which would be
    measured instead.  Its log is kept in a ``rtpengine-bench-*`` temporary directory."""
    url = _ping_url(extra_options)
    if _answers(url):
        raise SystemExit(f"something already answers on {url}: stop it first")
    # A listener port in the ephemeral range may be held for a minute by another program's
    # outgoing connection in TIME-WAIT (rtpengine then exits: "Address already in use"): try
    # again for up to 90 s before giving up.
    for attempt in range(10):
        run_dir = Path(tempfile.mkdtemp(prefix="rtpengine-bench-"))
        env = {**os.environ, "RTPE_EXTRA": extra_options, "RUN_DIR": str(run_dir),
               "WAIT_URL": url}
        started = subprocess.run(["bash", str(START_RTPENGINE)], capture_output=True,
                                 text=True, env=env, timeout=300)
        if started.returncode == 0:
            break
        if "Address already in use" not in started.stderr or attempt == 9:
            raise RuntimeError(f"start-rtpengine.sh failed:\n{started.stderr}")
        time.sleep(10)
    # The script prints the pid of its `setsid`, which may have forked; rtpengine's own pid
    # file names the daemon.
    pid = int((run_dir / "rtpengine.pid").read_text())
    try:
        _wait_for_pong(url, pid)
        yield pid
    finally:
        _stop(pid)


def alternating_rounds(rounds: int, gate: Callable[[bool], None], engine: Callable[[], None],
                       python_relay: bool, with_rtpengine: bool,
                       done: Callable[[str], None]) -> None:
    """Runs rtpgate (``gate(False)``), with ``python_relay`` also rtpgate on its Python relay
    (``gate(True)``), and with ``with_rtpengine`` rtpengine (``engine()``) ``rounds`` times,
    who goes first alternating per round; ``done(load)`` after each with the 1-minute load
    average read before it.  Says first which event loop rtpgate runs on: without uvloop
    (``pip install -e .[uvloop]``) it is asyncio's, and its CPU per packet is higher."""
    print("# rtpgate's event loop: " + ("uvloop" if has_uvloop() else
                                        "asyncio (uvloop is not installed: CPU per packet is "
                                        "higher than with it; pip install -e .[uvloop])"),
          flush=True)
    for round_ in range(rounds):
        runs: list[Callable[[], None]] = [lambda: gate(False)]
        if python_relay:
            runs.append(lambda: gate(True))
        if with_rtpengine:
            runs.append(engine)
        for step in runs if round_ % 2 == 0 else runs[::-1]:
            load = Path("/proc/loadavg").read_text().split()[0]
            step()
            done(load)
