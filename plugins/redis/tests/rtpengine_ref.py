"""The reference rtpengine (10.5, Debian) for the compatibility tests: started with
``tools/start-rtpengine.sh`` from the shared reference material on a copy of its
``rtpengine.conf`` with this suite's ports and ``--redis``, spoken to with ng over UDP, stopped
(or killed) by its pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import bencodepy

#: The ports given to this work: rtpengine's listeners and media range.
PORTS = {"listen-ng": "127.0.0.1:18323", "listen-tcp-ng": "127.0.0.1:18324",
         "listen-cli": "127.0.0.1:18990", "listen-http": "127.0.0.1:18180",
         "listen-https": "127.0.0.1:18543", "port-min": "42000", "port-max": "42999"}
MEDIA_RANGE = ["--port-min=42000", "--port-max=42999"]


def shared_dir() -> Path | None:
    """The shared reference material, found as the other tests find it."""
    candidates = [os.environ.get("RTPGATE_SHARED", "")]
    here = Path(__file__).resolve()
    candidates += [str(parent / "shared") for parent in here.parents]
    candidates += [str(parent.parent / "shared") for parent in here.parents]
    for candidate in candidates:
        if candidate and (Path(candidate) / "tools" / "start-rtpengine.sh").exists():
            return Path(candidate)
    return None


def unavailable() -> str | None:
    """Why the reference rtpengine cannot run here (None: it can)."""
    if shared_dir() is None:
        return "shared reference material (tools/start-rtpengine.sh) not found"
    if shutil.which("rtpengine") is None:
        return "rtpengine (Debian package rtpengine-daemon) is not installed"
    return None


class Rtpengine:
    def __init__(self, workdir: Path, redis: str) -> None:
        self.workdir = workdir
        self.redis = redis
        self.pid: int | None = None

    def start(self) -> Rtpengine:
        shared = shared_dir()
        assert shared is not None
        conf_dir = self.workdir / "conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        lines = []
        for line in (shared / "tools" / "rtpengine.conf").read_text().splitlines():
            key = line.split("=", 1)[0].strip()
            lines.append(f"{key} = {PORTS[key]}" if key in PORTS else line)
        lines.append(f"redis = {self.redis}")
        (conf_dir / "rtpengine.conf").write_text("\n".join(lines) + "\n")
        env = {**os.environ, "REF_DIR": str(conf_dir), "RUN_DIR": str(self.workdir / "run"),
               "NO_HTTPS": "1", "WAIT_URL": f"http://{PORTS['listen-http']}/ping"}
        out = subprocess.run(["bash", str(shared / "tools" / "start-rtpengine.sh")], env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        self.pid = int(out.stdout.strip().splitlines()[-1].split()[1])
        return self

    @property
    def log(self) -> str:
        path = self.workdir / "run" / "rtpengine.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def ng(self, command: str, **keys: Any) -> dict[str, Any]:
        cookie = uuid.uuid4().hex[:12].encode()
        message = {"command": command, **{k.replace("_", "-"): v for k, v in keys.items()}}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            host, port = PORTS["listen-ng"].rsplit(":", 1)
            sock.sendto(cookie + b" " + bencodepy.encode(message), (host, int(port)))
            data, _ = sock.recvfrom(65536)
        head, _, body = data.partition(b" ")
        assert head == cookie
        reply = bencodepy.Bencode(encoding="utf-8", encoding_fallback="value").decode(body)
        assert isinstance(reply, dict)
        return reply

    def kill(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            self.pid = None
