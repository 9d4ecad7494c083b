"""offer, answer, delete, query and list: the signalling commands on the engine.

Everything that can fail is checked before anything changes: the SDP, the keys, what rtpgate
does not implement, the load limit, and the ports (allocated first, attached only once all were
available).  A failed offer leaves no call, no monologue and no port behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..ngcommands.command import LoadLimit, NgError, Reply
from ..ngcommands.dispatch import reply_too_large
from . import branches, trickle
from . import codecs as cd
from . import model as m
from . import sdp as s
from .flags import OfferFlags, offer_flags
from .negotiate import ANSWER, OFFER, Negotiation, OutOfPorts
from .params import IncompleteSdp, Unsupported, check_supported, stream_params
from .report import call_stats
from .requests import DeleteRequest, ListRequest, OfferRequest, QueryRequest
from .rewrite import is_duplicate, rewrite

if TYPE_CHECKING:
    from .engine import Engine
    from .settings import EngineSettings

NOT_FOUND = "Call-ID not found or tags didn't match"
#: Bytes of an offer/answer reply besides the SDP (``d3:sdp<len>:...6:result2:oke``).
REPLY_OVERHEAD = 32


@dataclass(slots=True)
class Dialogue:
    """Who sends the SDP and who receives it, and what must change in the call to say so."""

    sender: m.Monologue
    receiver: m.Monologue
    new: list[m.Monologue] = field(default_factory=list)
    retag: str | None = None  #: tag the receiver/sender placeholder gets (first answer)


def _offer_dialogue(call: m.Call, from_tag: str, to_tag: str | None,
                    via_branch: str | None) -> Dialogue:
    new: list[m.Monologue] = []
    sender = call.monologue(from_tag)
    if sender is None:
        sender = call.new_monologue(from_tag)
        new.append(sender)
    receiver = call.monologue(to_tag) if to_tag else None
    if receiver is None and to_tag:
        receiver = call.new_monologue(to_tag)
        new.append(receiver)
    if receiver is None and via_branch and sender.peers:
        # a forked offer: the branch's own party, a new one for a new branch
        receiver = branches.branch_peer(call, sender, via_branch)
        if receiver is None:
            receiver = call.new_monologue("")
            new.append(receiver)
    if receiver is None:
        receiver = sender.peers[0] if sender.peers else None
    if receiver is None:
        receiver = call.new_monologue("")
        new.append(receiver)
    return Dialogue(sender, receiver, new)


def _answer_dialogue(call: m.Call, from_tag: str, to_tag: str, via_branch: str | None
                     ) -> Dialogue:
    """The answer travels from the to-tag party back to the from-tag party: the party of
    that tag, else the party of the answer's via-branch (a branch of a forked offer, tagged
    now), else the offerer's untagged peer."""
    new: list[m.Monologue] = []
    offerer = call.monologue(from_tag)
    if offerer is None:
        offerer = call.new_monologue(from_tag)
        new.append(offerer)
    answerer = call.monologue(to_tag)
    retag = None
    if answerer is None and via_branch:
        answerer = call.by_via_branch(via_branch)
        if answerer is offerer:
            answerer = None
        elif answerer is not None:
            retag = to_tag
    if answerer is None:
        answerer = next((p for p in offerer.peers if not p.tag), None)
        if answerer is not None:
            retag = to_tag
        else:
            answerer = call.new_monologue(to_tag)
            new.append(answerer)
    return Dialogue(answerer, offerer, new, retag)


def pair(call: m.Call, a: m.Monologue, b: m.Monologue) -> None:
    """Make ``a`` and ``b`` each other's offer/answer peer (and nobody else's)."""
    for ml in call.monologues:
        if ml is not a and ml is not b:
            ml.peers = [p for p in ml.peers if p is not a and p is not b]
    a.peers = [b]
    b.peers = [a]


def parse_request(request: OfferRequest, flags: OfferFlags, settings: EngineSettings
                  ) -> s.Sdp:
    if flags.unsupported:
        raise NgError(flags.unsupported[0])
    _check_size(request.sdp or "", settings)
    try:
        return s.parse(request.sdp or "")
    except s.SdpError:
        raise NgError("Failed to parse SDP") from None


def _check_size(text: str, settings: EngineSettings) -> None:
    """Bound the work of one request before any of it is done: the SDP's lines and media
    sections (each costs parsing, ports and rewriting on the one event loop)."""
    max_lines = settings.max_sdp_lines
    if text.count("\n") > max_lines:
        raise NgError(f"Too many lines in SDP (more than {max_lines})")
    max_media = settings.max_media_sections
    if text.count("\nm=") + text.startswith("m=") > max_media:
        raise NgError(f"Too many media sections in SDP (more than {max_media})")


def offer_answer(engine: Engine, request: OfferRequest, peer: tuple[str, int] | None,
                 opmode: str, max_reply: int | None = None) -> Reply:
    """``max_reply``: the largest reply the transport can carry (UDP); a larger one undoes a
    call this request created (its ports freed) and is refused with an error that fits."""
    flags = offer_flags(request, opmode, peer[0] if peer else None)
    if flags.fragment:
        trickle.apply(engine, request.call_id or "", request.from_tag or "", request.sdp or "")
        return {}
    if flags.dtls is None and engine.settings.dtls_passive:
        flags.dtls = "passive"
    sdp = parse_request(request, flags, engine.settings)
    if flags.loop_protect and is_duplicate(sdp, engine.instance_id):
        return {"sdp": request.sdp}
    try:
        check_supported(sdp)
        params = stream_params(sdp, flags)
    except Unsupported as exc:
        raise NgError(exc.reason) from None
    except IncompleteSdp:
        raise NgError("Incomplete SDP specification") from None
    if not sdp.sessions or any(not session.medias for session in sdp.sessions):
        raise NgError("Error rewriting SDP")

    call_id = request.call_id or ""
    call = engine.by_id.get(call_id)
    new_call = call is None
    if opmode == ANSWER:
        if call is None:
            raise NgError("Unknown call-id")
        dialogue = _answer_dialogue(call, request.from_tag or "", request.to_tag or "",
                                    flags.via_branch)
    else:
        if call is None:
            own, _ = engine.sessions()
            refusal = engine.load.refusal(engine.settings, own)
            if refusal is not None:
                raise LoadLimit(refusal)
            call = m.Call(call_id, proxy=proxy_name(peer))
        dialogue = _offer_dialogue(call, request.from_tag or "", request.to_tag,
                                   flags.via_branch)

    negotiation = Negotiation(engine.interfaces, engine.is_local, call, dialogue.sender,
                              dialogue.receiver, params, flags, opmode,
                              support=engine.codec_support)
    try:
        negotiation.prepare()
    except OutOfPorts:
        raise NgError("Ran out of ports") from None
    except cd.TranscodingRequired as exc:
        raise NgError(exc.reason) from None

    # -- from here on nothing fails
    _commit_dialogue(call, dialogue, flags, opmode, request.sdp)
    if flags.inject_dtmf:
        dialogue.sender.inject_dtmf = dialogue.receiver.inject_dtmf = True
    negotiation.commit()
    call.last_signal = time.time()
    if call.deleted_at is not None:  # the whole call was to go: it stays
        call.deleted_at = None
        for ml in call.monologues:
            ml.deleted = ml.deleted_at is not None
    for ml in (dialogue.sender, dialogue.receiver):  # a pending delete of either is off
        ml.deleted, ml.deleted_at = False, None
    if flags.record_call is not None:
        _record_call(call, flags.record_call)
    if request.metadata and call.recording is not None:
        call.recording.metadata = request.metadata
    if new_call:
        engine.add(call)
    engine.relay.sync(call)
    rewritten = rewrite(sdp, negotiation.plans, dialogue.receiver, flags, opmode,
                        engine.instance_id, engine.certificate)
    size = len(rewritten.encode("utf-8", "surrogateescape")) + REPLY_OVERHEAD
    if max_reply is not None and size > max_reply:
        if new_call:
            _delete(engine, call, None, 0)
        raise NgError(reply_too_large(size))
    if call.recording is not None:
        call.recording.signalled = (dialogue.sender.unique_id, opmode, request.sdp or "",
                                    rewritten)
    engine.changed(call)
    trickle.dequeue(engine, call_id, dialogue.sender.tag)
    if call.recording is not None and call.recording.outputs:
        return {"recordings": list(call.recording.outputs), "sdp": rewritten}
    return {"sdp": rewritten}


def _record_call(call: m.Call, action: str) -> None:
    """``record call``: start, stop or discard, as rtpengine's ``detect_setup_recording``
    (a paused recording stays paused on ``yes``: only ``start recording`` resumes it)."""
    if call.recording is None:
        if action != "start":
            return
        call.recording = m.Recording()
    rec = call.recording
    if action == "start" and rec.paused:
        return
    rec.recording = action == "start"
    rec.paused = False
    rec.discard = action == "discard"


def proxy_name(peer: tuple[str, int] | None) -> str:
    if peer is None:
        return ""
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _commit_dialogue(call: m.Call, dialogue: Dialogue, flags: OfferFlags, opmode: str,
                     sdp_text: str | None) -> None:
    for ml in dialogue.new:
        call.monologues.append(ml)
    if dialogue.retag is not None:
        dialogue.sender.tag = dialogue.retag
    branches.pair(dialogue.sender, dialogue.receiver)
    if flags.label:
        dialogue.sender.label = flags.label
    dialogue.sender.last_in_sdp = sdp_text
    if opmode == OFFER and flags.via_branch and dialogue.receiver.via_branch is None:
        dialogue.receiver.via_branch = flags.via_branch


# ---------------------------------------------------------------------- delete / query / list

def delete(engine: Engine, request: DeleteRequest) -> Reply:
    fatal = request.has_flag("fatal")
    call = engine.by_id.get(request.call_id or "")
    reply: Reply = {}
    target: m.Monologue | None = None
    if call is not None and request.from_tag:
        target = _delete_target(call, request)
        if target is None:
            call = None
    if call is None:
        if fatal:
            raise NgError(NOT_FOUND)
        return {"warning": NOT_FOUND}
    if target is not None:
        reply = call_stats(call, request.from_tag, request.to_tag)
    if call.recording is not None and request.has_flag("discard-recording"):
        call.recording.discard = True
    delay = request.delete_delay
    if delay is None or delay < 0:
        delay = engine.settings.delete_delay
    _delete(engine, call, target, delay)
    return reply


def _delete_target(call: m.Call, request: DeleteRequest) -> m.Monologue | None:
    """rtpengine's ``call_delete_branch``: the party of the via-branch (without to-tag), else
    of the to-tag (or the from-tag without one), else of the via-branch; last, the from-tag's
    party when the to-tag is unknown and its peer has no tag yet."""
    via, to_tag, from_tag = request.via_branch, request.to_tag, request.from_tag or ""
    target = call.by_via_branch(via) if via and not to_tag else None
    target = target or call.monologue(to_tag or from_tag)
    if target is None and via:
        target = call.by_via_branch(via)
    if target is None and to_tag:
        ml = call.monologue(from_tag)
        if ml is not None and len(ml.peers) == 1 and not ml.peers[0].tag:
            target = ml
    return target


def _delete(engine: Engine, call: m.Call, target: m.Monologue | None, delay: int) -> None:
    """rtpengine's branch deletion: one party goes (after ``delay`` seconds), and those left
    with nobody to talk to with it (:mod:`.branches`); when that leaves no dialogue, or
    without a party, the whole call goes after ``delay`` seconds."""
    if target is not None and not branches.leaves_call(call, target):
        branches.schedule(engine, call, target, delay)
        return
    for ml in call.monologues:
        ml.deleted = True
    if delay <= 0:
        engine.end(call, "terminated")
    else:
        call.deleted_at = time.time() + delay
        engine.changed(call)


def query(engine: Engine, request: QueryRequest) -> Reply:
    call = engine.by_id.get(request.call_id or "")
    if call is None:
        raise NgError("Unknown call-id")
    return call_stats(call, request.from_tag, request.to_tag)


def list_calls(engine: Engine, request: ListRequest) -> Reply:
    limit = _limit(request.limit)
    if limit < 0:
        raise NgError("invalid limit, must be >= 0")
    calls: list[Any] = []
    for call_id in engine.by_id:
        if len(calls) >= limit:
            break
        calls.append(call_id)
    reply: Reply = {"calls": calls}
    if engine.sharded:  # for merge_lists, which takes them out again
        reply[LIST_CREATED] = [int(engine.by_id[c].created * 1e6) for c in calls]
    return reply


#: A worker's part of a gathered ``list``: when each of its calls was made (microseconds).
LIST_CREATED = "rtpgate-created-us"


def merge_lists(replies: list[Reply], request: dict[str, Any]) -> Reply:
    """``list`` from every worker (each lists only its own calls, the oldest first): all their
    call-ids in creation order as one process lists them, up to the request's limit."""
    limit = _limit(request.get("limit"))
    made = sorted((created, index, position, call_id)
                  for index, reply in enumerate(replies)
                  for position, (call_id, created) in enumerate(zip(
                      reply.get("calls", []), reply.get(LIST_CREATED, []), strict=True)))
    return {"calls": [call_id for *_, call_id in made][:max(limit, 0)]}


def _limit(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 32
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        body = text[1:] if text[:1] in "+-" else text
        if body.isdigit():
            return int(text)
    return 32
