"""``block DTMF`` with ``trigger``: a DTMF sequence a party types switches its
``DTMF-security`` mode, as rtpengine's ``dtmf_check_trigger`` (``daemon/dtmf.c``).

A pipeline factory: a stream gets the ``dtmf-trigger`` ingress stage only while its party has
a trigger armed and negotiated telephone-event, so other streams stay on the fast path.  The
stage reads the party's RFC 4733 events (each event once, at its first packet) and never
changes a packet.  The keys typed are matched against the trigger, the match restarting when
more than ``--dtmf-digit-delay`` ms (2500) pass between one event's end and the next one's
start.  On a match the party's mode becomes ``DTMF-security-trigger`` and the trigger becomes
``trigger-end`` (with ``DTMF-security-trigger-end``): that sequence, ``trigger-end-digits``
more events (counted only where a ``trigger-end`` is set, as in rtpengine) or
``trigger-end-time`` ms switch to that mode and disarm the trigger.  A switch takes effect
from the packet after the one that caused it (rtpengine switches from a timer too): the event
that completes a sequence passes under the mode that was in force.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING

from ..media.pipeline import Pipeline
from . import model as m
from .dtmflog import event_pipeline

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("rtpgate.media")

KEYS = "0123456789*#ABCD"
#: rtpengine's ``--dtmf-digit-delay`` default (ms).
DIGIT_DELAY_MS = 2500


class DtmfTriggers:
    """The factory; switches a party's mode through the engine (and syncs the relay)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, stream: m.Stream, current: Pipeline | None) -> Pipeline | None:
        ml = stream.media.monologue
        if stream.is_rtcp or ml.control.dtmf_trigger is None:
            return None
        return event_pipeline(stream, current, DtmfTriggerStage,
                              lambda clocks: DtmfTriggerStage(self, stream, clocks))

    def switch(self, ml: m.Monologue, trigger: m.DtmfTrigger, matched: bool) -> None:
        """The party's trigger matched (``matched``), or its end came: set the mode."""
        if ml.control.dtmf_trigger is not trigger:
            return  # a later block/unblock DTMF replaced it
        mode = trigger.mode if matched else trigger.end_mode
        log.info("DTMF trigger of %s %s, DTMF-security now %s", ml.tag,
                 "matched" if matched else "ended", mode)
        ml.control.block_dtmf = mode != "off"
        ml.control.dtmf_mode = mode if mode != "off" else "drop"
        if matched and trigger.end_sequence:
            trigger.matched = True
            trigger.sequence = trigger.end_sequence
        else:
            ml.control.dtmf_trigger = None
        if matched and trigger.end_ms:
            asyncio.get_running_loop().call_later(trigger.end_ms / 1000, self._end_later,
                                                  ml, trigger)
        self._sync(ml.call)

    def _end_later(self, ml: m.Monologue, trigger: m.DtmfTrigger) -> None:
        current = ml.control.dtmf_trigger
        if self.engine.by_id.get(ml.call.call_id) is ml.call and (current is None
                                                                  or current is trigger):
            ml.control.dtmf_trigger = trigger
            self.switch(ml, trigger, False)

    def _sync(self, call: m.Call) -> None:
        """Apply the switch to the relay, and announce it (a store keeps the trigger's state
        and the mode over a restart)."""
        if self.engine.by_id.get(call.call_id) is call:
            self.engine.relay.sync(call)
            self.engine.changed(call)


class DtmfTriggerStage:
    """Watches the events one party sends for its trigger."""

    name = "dtmf-trigger"

    def __init__(self, owner: DtmfTriggers, stream: m.Stream, clocks: dict[int, int]) -> None:
        self.error = False
        self.owner = owner
        self.stream = stream
        self.clocks = clocks
        self._last: int | None = None  # timestamp of the last event seen
        self._last_end: int | None = None  # its end (timestamp + duration)
        self._typed = ""
        self._count = 0  # events since the trigger matched

    def rtp(self, data: bytes) -> bytes | None:
        pt = data[1] & 0x7F
        if pt not in self.clocks or len(data) < 16 or data[0] & 0x1F:
            return data
        timestamp = int.from_bytes(data[4:8], "big")
        event, _, duration = struct.unpack_from("!BBH", data, 12)
        if timestamp != self._last and event < len(KEYS):
            self._event(KEYS[event], timestamp, self.clocks[pt])
        self._last = timestamp
        self._last_end = (timestamp + duration) & 0xFFFFFFFF
        return data

    def rtcp(self, data: bytes) -> bytes | None:
        return data

    def _event(self, key: str, timestamp: int, clock: int) -> None:
        ml = self.stream.media.monologue
        trigger = ml.control.dtmf_trigger
        if trigger is None:
            return
        if self._last_end is not None:
            gap = ((timestamp - self._last_end) & 0xFFFFFFFF) * 1000 // clock
            if gap > DIGIT_DELAY_MS and gap < 0x7FFFFFFF * 1000 // clock:
                self._typed = ""
        if trigger.matched and trigger.end_digits:
            self._count += 1
            if self._count >= trigger.end_digits:
                self._schedule(ml, trigger, False)
                return
        self._typed = (self._typed + key)[-len(trigger.sequence):]
        if self._typed == trigger.sequence:
            self._typed = ""
            self._count = 0
            self._schedule(ml, trigger, not trigger.matched)

    def _schedule(self, ml: m.Monologue, trigger: m.DtmfTrigger, matched: bool) -> None:
        asyncio.get_running_loop().call_soon(self.owner.switch, ml, trigger, matched)
