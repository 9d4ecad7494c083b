"""The CLI with several workers (``--num-threads``): a command about one call runs on the
worker that owns it, a command over every call runs on every worker and the outputs are put
together, a change of settings is made on every worker; everything else (``params current``,
...) runs on the worker the connection landed on (``list totals`` and ``list interfaces`` read
every worker's counters themselves, :func:`rtpgate.api.merged_metrics`).

``list sessions all|own|foreign|recording`` lists every worker's lines (the "No sessions"
line only when no worker has one); ``list numsessions`` adds every worker's counts up;
``terminate all|own|foreign`` ends the calls on every worker; ``list sessions <call-id>``,
``terminate <call-id>``, ``call <call-id> ...`` and ``debug <call-id> ...`` go to the owner;
``set ...`` and ``params revert`` change every worker's settings.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from rtpgate.api import Workers

from .commands.calls import SESSION_FILTERS

#: The name of one worker's run of a CLI line, among the workers' gathered views.
GATHER_NAME = "cli.run"
_NO_SESSIONS = re.compile(r"^No (\w+ )?sessions on this media relay\.\n$")
_COUNT = re.compile(r"^(.*?: )(\d+)$")

RunLocal = Callable[[str], Awaitable[str]]


def register(workers: Workers, run_local: RunLocal) -> None:
    async def part(line: object) -> str:
        return await run_local(str(line))
    workers.register(GATHER_NAME, part)


async def run(workers: Workers, line: str, run_local: RunLocal) -> str:
    """``line``'s output, run where it belongs."""
    words = line.split()
    if words[:2] == ["list", "sessions"] and len(words) == 3:
        if words[2] in SESSION_FILTERS:
            return _sessions(await workers.gather(GATHER_NAME, line))
        return await _on_owner(workers, words[2], line, run_local)
    if words[:2] == ["list", "numsessions"]:
        return _added_up(await workers.gather(GATHER_NAME, line))
    if words[:1] == ["terminate"] and len(words) == 2:
        if words[1] in ("all", "own", "foreign"):
            return str((await workers.gather(GATHER_NAME, line))[0])
        return await _on_owner(workers, words[1], line, run_local)
    if words[:1] in (["call"], ["debug"]) and len(words) >= 2:
        return await _on_owner(workers, words[1], line, run_local)
    if words[:1] == ["set"] or words[:2] == ["params", "revert"]:
        # a setting is every worker's: changed on each, this worker's answer returned
        return str((await workers.gather(GATHER_NAME, line))[0])
    return await run_local(line)


async def _on_owner(workers: Workers, call_id: str, line: str, run_local: RunLocal) -> str:
    index = workers.owner(call_id)
    if index == workers.index:
        return await run_local(line)
    return str(await workers.ask(index, GATHER_NAME, line))


def _sessions(outputs: list[str]) -> str:
    listed = [out for out in outputs if not _NO_SESSIONS.match(out)]
    return "".join(listed) if listed else outputs[0]


def _added_up(outputs: list[str]) -> str:
    """The first output's lines with every ``label: number`` summed over all outputs."""
    lines = [out.splitlines() for out in outputs]
    merged = []
    for row, line in enumerate(lines[0]):
        found = _COUNT.match(line)
        if found is None:
            merged.append(line)
            continue
        total = 0
        for other in lines:
            match = _COUNT.match(other[row]) if row < len(other) else None
            total += int(match.group(2)) if match else 0
        merged.append(f"{found.group(1)}{total}")
    return "".join(f"{line}\n" for line in merged)
