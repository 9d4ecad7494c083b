"""Forked calls: the branches of an offer and the deletion of one party (rtpengine's
``call_get_monologue_new`` via-branch handling, ``call_delete_branch`` and ``monologue_destroy``).

An offer that names no to-tag but a ``via-branch`` the caller has not used before is a new
branch: it gets a party of its own (untagged until its answer), and the earlier branches stay.
An answer finds its party by to-tag, else by its via-branch, else the offerer's untagged peer.
A ``delete`` of one party (by via-branch, to-tag or from-tag) removes that party after the
delete-delay; each party that was in a dialogue with it goes too unless it still has another
(the caller of a forked offer stays while a branch is left).  When no two tagged parties and no
branch remain, the whole call goes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import model as m

if TYPE_CHECKING:
    from .engine import Engine


def pair(a: m.Monologue, b: m.Monologue) -> None:
    """``a`` and ``b`` are each other's offer/answer peer now (rtpengine's
    ``__subscribe_offer_answer_both_ways``): each sends to the other alone, and a party that
    ``a`` or ``b`` was in a dialogue with before keeps sending to it (a caller still gets
    what an earlier branch of its forked offer sends: early media).  Most recent last in
    ``associates`` (``query`` lists a party's subscriptions newest first)."""
    a.peers = [b]
    b.peers = [a]
    for one, other in ((a, b), (b, a)):
        if other in one.associates:
            one.associates.remove(other)
        one.associates.append(other)


def subscriptions(ml: m.Monologue) -> list[m.Monologue]:
    """The offer/answer parties ``ml`` receives from (those sending to it), newest first."""
    known = [a for a in reversed(ml.associates) if a in ml.call.monologues and ml in a.peers]
    rest = [x for x in ml.call.monologues if ml in x.peers and x not in known]
    return known + rest


def branch_peer(call: m.Call, sender: m.Monologue, via_branch: str) -> m.Monologue | None:
    """The receiving party of an offer from ``sender`` without to-tag on ``via_branch``: its
    peer of that branch, or its peer without a branch yet (which takes this one), or a party
    of that branch from before; None for a new branch."""
    for peer in sender.peers:
        if peer.via_branch is None or peer.via_branch == via_branch:
            return peer
    return call.by_via_branch(via_branch)


def _related(a: m.Monologue, b: m.Monologue) -> bool:
    # peers count as well: a call rebuilt from persisted state has no associates
    return b in a.associates or b in a.peers or a in b.peers


def leaves_call(call: m.Call, target: m.Monologue) -> bool:
    """Removing ``target`` ends the call: fewer than two tagged parties and no branch would
    remain (rtpengine's condition in ``monologue_destroy``)."""
    left = [ml for ml in call.monologues if ml not in _gone(call, target)]
    return sum(1 for ml in left if ml.tag) < 2 and not any(ml.via_branch for ml in left)


def _gone(call: m.Call, target: m.Monologue) -> list[m.Monologue]:
    """``target`` and every party that would be left with nobody to talk to without it."""
    gone = [target]
    for ml in call.monologues:
        if ml is target or not _related(ml, target):
            continue
        if not any(other is not target for other in (*ml.associates, *ml.peers)):
            gone.append(ml)
    return gone


def destroy(engine: Engine, call: m.Call, target: m.Monologue) -> None:
    """Remove ``target`` now, with every party left with nobody to talk to; end the call
    when that leaves it without a dialogue (:func:`leaves_call`)."""
    if leaves_call(call, target):
        engine.end(call, "terminated")
        return
    gone = _gone(call, target)
    call.monologues = [ml for ml in call.monologues if ml not in gone]
    for ml in call.monologues:
        ml.peers = [p for p in ml.peers if p not in gone]
        ml.associates = [a for a in ml.associates if a not in gone]
    call.end_subscriptions()
    engine.relay.sync(call)
    for ml in gone:
        ml.release()
    engine.changed(call)


def expire(engine: Engine, call: m.Call, now: float) -> None:
    """Remove the parties whose pending delete is due (the call timer)."""
    for ml in list(call.monologues):
        if call.ended:
            return
        if ml.deleted_at is not None and now >= ml.deleted_at and ml in call.monologues:
            destroy(engine, call, ml)


def schedule(engine: Engine, call: m.Call, target: m.Monologue, delay: int) -> None:
    """A delete of ``target`` alone that leaves the rest of the call: now, or after
    ``delay`` seconds (an offer or answer of the party before then cancels it)."""
    if delay <= 0:
        destroy(engine, call, target)
        return
    target.deleted = True
    target.deleted_at = time.time() + delay
    engine.changed(call)
