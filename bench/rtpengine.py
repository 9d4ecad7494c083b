"""Running the reference rtpengine 10.5 for a benchmark, for the scripts of this folder.

    with reference_rtpengine("--delete-delay=0 --log-level=5") as pid:
        ...  # rtpengine answers on its default ports (HTTP 8080, ng UDP 2223, ...)

It is started by ``../shared/tools/start-rtpengine.sh`` and stopped (and waited for) on leaving
the block, whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

START_RTPENGINE = Path(os.environ.get("RTPGATE_SHARED", Path(__file__).resolve().parent.parent
                                      / ".." / "shared")) / "tools" / "start-rtpengine.sh"


def available() -> bool:
    return shutil.which("rtpengine") is not None and START_RTPENGINE.exists()


@contextlib.contextmanager
def reference_rtpengine(extra_options: str) -> Iterator[int]:
    """Start rtpengine with ``extra_options`` (``RTPE_EXTRA``); yields its pid."""
    run_dir = Path(tempfile.mkdtemp(prefix="rtpengine-bench-"))
    env = {**os.environ, "RTPE_EXTRA": extra_options, "RUN_DIR": str(run_dir)}
    subprocess.run(["bash", str(START_RTPENGINE)], capture_output=True, text=True, env=env,
                   timeout=300, check=True)
    # The script prints the pid of its `setsid`, which may have forked; rtpengine's own pid
    # file names the daemon.
    pid = int((run_dir / "rtpengine.pid").read_text())
    try:
        yield pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
