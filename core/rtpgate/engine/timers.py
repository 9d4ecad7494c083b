"""The engine's timer: once a second it ends calls that are due, as rtpengine's call timer does.

* A deleted call whose delete-delay has passed ends as ``terminated``; so does a deleted party
  (a branch, :mod:`.branches`).
* ``final-timeout``: a call older than that ends as ``final_timeout``.
* Otherwise a call ends when none of its streams has had media recently: a stream counts against
  ``silent-timeout`` while its media does not receive (hold) or it has no local port (rejected),
  against ``offer-timeout`` while its endpoint is unknown (the offer was never answered), and
  against ``timeout`` otherwise.  Foreign calls (another node's, kept from Redis) are left to
their owner.  A limit of 0 never expires.  "Recently" is judged from the
  stream's last-packet time, which the relay updates and signalling refreshes.

Settings are read on every run, so changing them (``set timeout 10``) applies at once.  The
timer also samples CPU use and relayed bandwidth for the load limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from . import branches
from .model import MF_RECV, PS_FILLED, Call

if TYPE_CHECKING:
    from .engine import Engine
    from .settings import EngineSettings

log = logging.getLogger("rtpgate.engine")

#: Seconds between runs (rtpengine's call timer runs once a second).
INTERVAL = 1.0


def timeout_reason(call: Call, now: float, settings: EngineSettings) -> str | None:
    """Why ``call`` should end now for lack of media, or None.  A call without streams (no
    media yet) only ends by final-timeout, as in rtpengine."""
    reasons: set[str] = set()
    for ml in call.monologues:
        for media in ml.medias:
            for ps in media.streams:
                if not media.flags & MF_RECV or ps.selected is None:
                    limit, reason = settings.silent_timeout, "silent_timeout"
                elif not ps.flags & PS_FILLED:
                    limit, reason = settings.offer_timeout, "offer_timeout"
                else:
                    limit, reason = settings.timeout, "timeout"
                if limit <= 0 or now - ps.last_packet < limit:
                    return None
                reasons.add(reason)
    # an unanswered offer is reported as such even though its answered side timed out too
    for reason in ("offer_timeout", "timeout", "silent_timeout"):
        if reason in reasons:
            return reason
    return None


class Sweeper:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                self.sweep(time.time())
            except Exception:
                log.exception("call timer failed")

    def sweep(self, now: float) -> None:
        engine = self.engine
        settings = engine.settings
        engine.load.sample(engine.stats.relayed.bytes)
        final = settings.final_timeout
        for call in list(engine.by_id.values()):
            if call.foreign:  # its owner times it out (and deletes it), as in rtpengine
                continue
            if any(ml.deleted_at is not None for ml in call.monologues):
                branches.expire(engine, call, now)  # deleted branches whose delay is over
                if call.ended:
                    continue
            if call.deleted_at is not None:
                if now >= call.deleted_at:
                    engine.end(call, "terminated")
                continue
            if final > 0 and now - call.created >= final:
                engine.end(call, "final_timeout")
                continue
            reason = timeout_reason(call, now, settings)
            if reason is not None:
                engine.end(call, reason)
