"""Trickle ICE over ng (RFC 8838, RFC 8840): an ``offer`` with the ``fragment`` flag carries an
SDP fragment (``a=ice-ufrag``, ``a=mid``, ``a=candidate`` lines, ``a=end-of-candidates``) that
adds candidates to the media of the from-tag party that has those ICE credentials, as a SIP
proxy relays an INFO with ``application/trickle-ice-sdpfrag``.

rtpengine 10.5 answers such an offer with a bare ``{"result": "ok"}``, also for a call it does
not know yet (it queues the fragment); rtpgate answers the same, and drops a fragment for an
unknown call or party (no queue: a fragment that comes before its offer is lost, noted in
docs/webrtc.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import model as m

if TYPE_CHECKING:
    from .engine import Engine

#: Candidates kept per media (a hostile fragment stream must not grow a call without bound).
MAX_CANDIDATES = 64


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


def apply(engine: Engine, call_id: str, from_tag: str, text: str) -> int:
    """Add the fragment's candidates to the matching medias; the number added."""
    call = engine.call(call_id)
    ml = call.monologue(from_tag) if call is not None else None
    if call is None or ml is None:
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
