"""The engine's call hooks, as any plugin sees them (rtpgate-redis is built on them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from calls import Call, cli, ng, wait_for
from rtpgate.testing import ServerProcess

HERE = Path(__file__).parent


def test_calls_restore_changed_and_ended_hooks(tmp_path: Path) -> None:
    """``rtpgate_calls_restore`` runs once at startup; ``rtpgate_call_changed`` after offer,
    answer, media control and ownership changes; ``rtpgate_call_ended`` when the call goes."""
    log = tmp_path / "hooks.log"
    server = ServerProcess(["--plugin=engine_hook_probe", f"--hook-log={log}",
                            "--interface=127.0.0.1", "--delete-delay=0"],
                           env={"PYTHONPATH": str(HERE)}, workdir=tmp_path).start()
    try:
        lines: Callable[[], list[str]] = lambda: log.read_text().splitlines()  # noqa: E731
        assert lines() == ["restore"]
        call = Call("hooked").connect(server)
        assert lines() == ["restore", "changed hooked own", "changed hooked own"]
        ng(server, "block media", call_id="hooked", from_tag="alice")
        cli(server, "standby")
        cli(server, "active")
        assert lines()[3:] == ["changed hooked own", "changed hooked foreign",
                               "changed hooked own"]
        ng(server, "delete", call_id="hooked", from_tag="alice")
        wait_for(lambda: lines()[-1] == "ended hooked", what="the ended hook")
        call.close()
    finally:
        assert server.stop() == 0, server.log
