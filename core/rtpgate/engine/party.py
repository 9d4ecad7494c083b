"""Recording, forwarding and media control: which party a command means, and its state.

Party selection is rtpengine's ``media_block_match``: ``all`` means the whole call; otherwise a
``label``, then an ``address`` (matched against the parties' SDP endpoints), then a ``from-tag``
picks a monologue, each with its own error when nothing matches.  block/unblock DTMF, block/
unblock media and start/stop forwarding act on the picked party only with the ``directional``
flag (rtpengine's ``IS_OP_DIRECTIONAL``); otherwise on the whole call.  The relay enforces the
state; here it is recorded and reported by ``query``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ngcommands.command import NgError, Reply
from . import model as m
from .requests import BlockDtmfRequest, PartyRequest, RecordingRequest
from .sdp import parse_ip

if TYPE_CHECKING:
    from .engine import Engine

DTMF_MODES = {"drop", "silence", "tone", "random", "zero", "dtmf", "off"}
#: RFC 4733 event codes of the keys ``digit`` may name (or the code itself).
DTMF_DIGITS = {**{str(d): d for d in range(16)}, "*": 10, "#": 11, "A": 12, "B": 13,
               "C": 14, "D": 15}


def party(engine: Engine, request: PartyRequest | RecordingRequest
           ) -> tuple[m.Call, m.Monologue | None]:
    call = engine.by_id.get(request.call_id or "")
    if call is None:
        raise NgError("Unknown call-ID")
    if (request.all or "").lower() == "all" or request.has_flag("all"):
        return call, None
    if request.label:
        ml = call.by_label(request.label)
        if ml is None:
            raise NgError("No monologue matching the given label")
        return call, ml
    if request.address:
        address = parse_ip("IP4", request.address) or parse_ip("IP6", request.address)
        if address is None:
            raise NgError("Failed to parse network address")
        for ml in call.monologues:
            for media in ml.medias:
                for ps in media.streams:
                    if ps.advertised is not None and ps.advertised.address == address:
                        return call, ml
        raise NgError("Failed to match address to any tag")
    if request.from_tag:
        ml = call.monologue(request.from_tag)
        if ml is None:
            raise NgError("From-tag given, but no such tag exists")
        return call, ml
    return call, None


def _directional(request: PartyRequest, ml: m.Monologue | None) -> m.Monologue | None:
    return ml if ml is not None and request.has_flag("directional") else None


def _clear_all(request: PartyRequest) -> bool:
    return request.has_flag("all") or (request.all or "").lower() == "all"


def _mode(text: str | None) -> str | None:
    """A ``DTMF-security`` value; ``None`` for none, ``off`` or an unknown one (rtpengine
    logs those and keeps its default)."""
    mode = (text or "").lower()
    return mode if mode in DTMF_MODES and mode != "off" else None


def _frequency(value: object) -> int:
    """``frequency``: a number (or numeric string), or a list whose first one counts."""
    if isinstance(value, list) and value:
        value = value[0]
    text = str(value) if isinstance(value, (int, str)) else ""
    return int(text) if text.isdigit() and 0 < int(text) < 24000 else 0


def block_dtmf(engine: Engine, request: BlockDtmfRequest, block: bool) -> Reply:
    """As rtpengine's ``call_block_dtmf_ng``: the mode is ``DTMF-security`` (``off`` counts as
    not given), else ``drop``, else, when a ``trigger`` is armed, nothing until it matches."""
    call, ml = party(engine, request)
    ml = _directional(request, ml)
    digit = 0
    if request.digit:
        digit = DTMF_DIGITS.get(request.digit.upper(), -1)
        if digit < 0:
            raise NgError("Invalid 'digit' specified")
    trigger = None
    if block and request.trigger:
        trigger = m.DtmfTrigger(
            request.trigger, _mode(request.dtmf_security_trigger) or "off",
            request.trigger_end or "", _mode(request.dtmf_security_trigger_end) or "off",
            max(request.trigger_end_time or 0, 0), max(request.trigger_end_digits or 0, 0))
    mode = _mode(request.dtmf_security) or ("off" if trigger is not None or _mode(
        request.dtmf_security_trigger) else "drop")
    targets = [ml.control] if ml is not None else [call.media_control]
    if ml is None and not block and _clear_all(request):
        targets += [x.control for x in call.monologues]
    for control in targets:
        control.block_dtmf = block and mode != "off"
        control.dtmf_mode = mode if block and mode != "off" else "drop"
        control.dtmf_digit = digit
    parties = [ml.control] if ml is not None else [x.control for x in call.monologues]
    given = request.delay_buffer is not None and request.delay_buffer >= 0
    for control in parties:
        if given:
            control.delay_buffer = request.delay_buffer or 0
        if block and (given or trigger is not None or mode not in ("drop", "off")):
            control.dtmf_delay = max(request.dtmf_delay or 0, 0)
    if block and (mode != "drop" or trigger is not None):
        # the tone and the trigger belong to the party (to every party for the whole call)
        frequency = _frequency(request.frequency)
        parties = [ml.control] if ml is not None else [x.control for x in call.monologues]
        for control in {id(c): c for c in targets + parties}.values():
            if frequency:
                control.tone_frequency = frequency
            if request.volume is not None and -63 <= request.volume <= 63:
                control.tone_volume = abs(request.volume)
        for control in parties:
            control.dtmf_trigger = trigger if trigger is None else m.DtmfTrigger(
                trigger.sequence, trigger.mode, trigger.end_sequence, trigger.end_mode,
                trigger.end_ms, trigger.end_digits)
    return {}


def block_media(engine: Engine, request: PartyRequest, block: bool, silence: bool) -> Reply:
    call, ml = party(engine, request)
    if not silence:
        ml = _directional(request, ml)
    to_tag = request.to_tag if ml is not None else None
    if ml is not None:
        control = ml.control
        if to_tag and call.monologue(to_tag) is not None:
            flows = control.silence_media_to if silence else control.block_media_to
            if block:
                flows.add(to_tag)
            else:
                flows.discard(to_tag)
        elif silence:
            control.silence_media = block
        else:
            control.block_media = block
        return {}
    controls = [call.media_control]
    if not block and _clear_all(request):
        controls += [x.control for x in call.monologues]
    for control in controls:
        if silence:
            control.silence_media = block
            if not block:
                control.silence_media_to.clear()
        else:
            control.block_media = block
            if not block:
                control.block_media_to.clear()
    return {}


def forwarding(engine: Engine, request: PartyRequest, start: bool) -> Reply:
    """start/stop forwarding of a party (``directional``) or the whole call; the call gets
    its recording state either way (rtpengine's ``recording_start``), with the ``metadata``
    given."""
    call, ml = party(engine, request)
    ml = _directional(request, ml)
    if call.recording is None:
        call.recording = m.Recording()
    call.recording.metadata = request.metadata or call.recording.metadata
    if ml is not None:
        ml.forwarding = start
        return {}
    call.recording.forwarding = start
    return {}


def recording(engine: Engine, request: RecordingRequest, action: str) -> Reply:
    """start/stop/pause recording: an unknown from-tag is no error (rtpengine only warns)."""
    call = engine.by_id.get(request.call_id or "")
    if call is None:
        raise NgError("Unknown call-id")
    if call.recording is None:
        call.recording = m.Recording()
    rec = call.recording
    rec.metadata = request.metadata or rec.metadata
    rec.file = request.recording_file or rec.file
    rec.path = request.recording_path or rec.path
    rec.pattern = request.recording_pattern or rec.pattern
    pause = action == "pause" or (action == "stop" and (
        request.has_flag("pause") or (request.pause or "").lower() in ("yes", "on", "true")))
    if action == "start":
        rec.recording, rec.paused = True, False
    elif pause:
        rec.recording, rec.paused = False, True
    else:
        rec.recording, rec.paused = False, False
        rec.discard = request.has_flag("discard-recording")
    return {}
