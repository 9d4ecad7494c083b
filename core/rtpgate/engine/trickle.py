"""Trickle ICE over ng (RFC 8838, RFC 8840): an ``offer`` with the ``fragment`` flag carries an
SDP fragment (``a=ice-ufrag``, ``a=mid``, ``a=candidate`` lines, ``a=end-of-candidates``) that
adds candidates to the media of the from-tag party that has those ICE credentials, as a SIP
proxy relays an INFO with ``application/trickle-ice-sdpfrag``.

rtpengine 10.5 answers such an offer with a bare ``{"result": "ok"}``, also for a call or party
it does not know yet: it queues the fragment under the from-tag and applies it after the next
offer or answer of that party, if it is at most 3 s old (``MAX_FRAG_AGE`` in ice.c). rtpgate
does the same with :class:`FragmentQueue`, without making a call for it (rtpengine creates an
empty call), and bounds the queue (a flood of fragments for made-up calls must not grow memory).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import model as m

if TYPE_CHECKING:
    from .engine import Engine

#: Candidates kept per media (a hostile fragment stream must not grow a call without bound).
MAX_CANDIDATES = 64
#: How long a fragment waits for its party's offer or answer (rtpengine's MAX_FRAG_AGE).
MAX_FRAGMENT_AGE = 3.0
#: Fragments waiting at once, in all; the oldest goes first when full.
MAX_QUEUED = 1024
#: Fragments waiting per party.
MAX_QUEUED_PER_PARTY = 32


@dataclass(slots=True)
class Fragment:
    """One media's part of an SDP fragment."""

    ufrag: str | None = None
    mid: str | None = None
    candidates: list[str] = field(default_factory=list)
    end: bool = False


def parse(text: str) -> list[Fragment]:
    """The fragment's media parts: a new part starts at each ``m=`` or ``a=mid`` after
    candidates; session-level ``a=ice-ufrag`` applies to every part."""
    parts: list[Fragment] = [Fragment()]
    session_ufrag: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts.append(Fragment(ufrag=session_ufrag))
            continue
        if not line.startswith("a="):
            continue
        name, _, value = line[2:].partition(":")
        part = parts[-1]
        if name == "ice-ufrag":
            if len(parts) == 1:
                session_ufrag = value
            part.ufrag = value
        elif name == "mid":
            if part.mid is not None or part.candidates:
                part = Fragment(ufrag=session_ufrag)
                parts.append(part)
            part.mid = value
        elif name == "candidate" and value:
            part.candidates.append(value)
        elif name == "end-of-candidates":
            part.end = True
    return [p for p in parts if p.candidates or p.end]


class FragmentQueue:
    """Fragments that came before their party's offer or answer, by (call-id, from-tag)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._parties: OrderedDict[tuple[str, str], list[tuple[float, str]]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def put(self, call_id: str, from_tag: str, text: str) -> None:
        now = self._clock()
        self._expire(now)
        key = (call_id, from_tag)
        waiting = self._parties.setdefault(key, [])
        if len(waiting) >= MAX_QUEUED_PER_PARTY:
            return
        if self._count >= MAX_QUEUED:
            oldest = next(iter(self._parties))
            self._drop(oldest, 1)
            waiting = self._parties.setdefault(key, [])
        waiting.append((now, text))
        self._count += 1

    def take(self, call_id: str, from_tag: str) -> list[str]:
        """The party's fragments not older than :data:`MAX_FRAGMENT_AGE`, in arrival order;
        the queue forgets them."""
        waiting = self._parties.pop((call_id, from_tag), [])
        self._count -= len(waiting)
        now = self._clock()
        return [text for at, text in waiting if now - at <= MAX_FRAGMENT_AGE]

    def _expire(self, now: float) -> None:
        while self._parties:
            key, waiting = next(iter(self._parties.items()))
            if now - waiting[-1][0] <= MAX_FRAGMENT_AGE:
                break
            self._drop(key, len(waiting))

    def _drop(self, key: tuple[str, str], n: int) -> None:
        waiting = self._parties[key]
        del waiting[:n]
        self._count -= n
        if not waiting:
            del self._parties[key]


def apply(engine: Engine, call_id: str, from_tag: str, text: str) -> int:
    """Add the fragment's candidates to the matching medias; the number added.  A fragment
    for a call or party not known yet waits in ``engine.fragments``."""
    call = engine.call(call_id)
    ml = call.monologue(from_tag) if call is not None else None
    if call is None or ml is None:
        engine.fragments.put(call_id, from_tag, text)
        return 0
    added = 0
    for part in parse(text):
        for media in ml.medias:
            if not _matches(media, part):
                continue
            remote = media.remote_ice
            assert remote is not None
            for candidate in part.candidates:
                if candidate not in remote.candidates and len(remote.candidates) < MAX_CANDIDATES:
                    remote.candidates.append(candidate)
                    added += 1
    if added:
        engine.relay.sync(call)
        engine.changed(call)
    return added


def _matches(media: m.Media, part: Fragment) -> bool:
    remote = media.remote_ice
    if remote is None:
        return False
    if part.ufrag is not None and part.ufrag != remote.ufrag:
        return False
    return part.mid is None or media.media_id is None or part.mid == media.media_id


def dequeue(engine: Engine, call_id: str, from_tag: str) -> int:
    """Apply the fragments that waited for this party (after its offer or answer)."""
    return sum(apply(engine, call_id, from_tag, text)
               for text in engine.fragments.take(call_id, from_tag))
