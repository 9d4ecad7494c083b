"""A stream's media security across a restart: what a persistence plugin keeps
(:class:`~rtpgate.engine.model.MediaResume`) and how the relay carries on with it.

:func:`snapshot` reads it from the relay: the keys the DTLS handshake produced and the ICE pair
selected (from the WebRTC part of the stream's pipeline, :mod:`.webrtc`), and the SRTP rollover
counter of each SSRC the stream's decrypt and encrypt stages have seen (SDES or DTLS).

A restored stream carries :attr:`Stream.resume <rtpgate.engine.model.Stream.resume>` into the
relay's first sync: :mod:`.webrtc` keys its SRTP stages with the stored DTLS keys instead of
waiting for a handshake (none is started) and restores the selected ICE pair, and
:func:`apply_rocs` gives every SRTP stage of the new pipeline its rollover counters, so that
packets sent after a rollover still authenticate.  Then ``resume`` is cleared.

Not kept: the SRTCP index rtpgate sends with (libsrtp has no way to set it; a restarted node's
SRTCP starts at index 0 again, below what the party has seen, so its replay check may drop
RTCP until the index passes), the DTLS session itself (a re-handshake the party starts is a new
session) and the replay windows (a restored stream accepts any index above the counters).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..media.pipeline import Pipeline
from ..media.srtp import SrtpDecrypt, SrtpEncrypt
from . import model as m

if TYPE_CHECKING:
    from .callrelay import CallRelay

#: The key of the WebRTC part in :attr:`Pipeline.extra` (see :mod:`.webrtc`).
WEBRTC = "webrtc"


def _ssrcs(call: m.Call) -> set[int]:
    """Every SSRC the relay saw in the call: what a stream's stages may have handled (its own
    party's on ingress, its peers' on egress)."""
    return {ssrc for stream in call.streams() for ssrc in stream.ssrcs}


def snapshot(relay: CallRelay, stream: m.Stream) -> m.MediaResume | None:
    """What ``stream`` would need to carry on after a restart; None when it has no secured
    media (no SRTP stage, no DTLS keys, no selected ICE pair).  An SRTP stage that has seen
    no packet yet still gives one (with no counters), so that its counters are watched.  A
    restored stream the relay has not synced yet gives back what it was restored with."""
    rs = relay.streams.get(stream)
    pipeline = rs.pipeline if rs is not None else None
    if pipeline is None:
        return stream.resume
    state = pipeline.extra.get(WEBRTC)
    keys = getattr(state, "keys", None)
    agent = getattr(state, "agent", None)
    selected = agent.selected if agent is not None else None
    ssrcs = _ssrcs(stream.media.monologue.call)
    rocs_in: dict[int, int] = {}
    rocs_out: dict[int, int] = {}
    srtp = False
    for stage in pipeline.ingress:
        if isinstance(stage, SrtpDecrypt):
            srtp = True
            rocs_in.update(stage.rocs(ssrcs))
    for stage in pipeline.egress:
        if isinstance(stage, SrtpEncrypt):
            srtp = True
            rocs_out.update(stage.rocs(ssrcs))
    if keys is None and selected is None and not srtp:
        return None
    return m.MediaResume(keys, rocs_in, rocs_out,
                         (selected.local, selected.remote) if selected is not None else None)


def apply_rocs(stream: m.Stream, pipeline: Pipeline | None) -> None:
    """Give the SRTP stages of a restored stream's first pipeline their rollover counters, and
    clear :attr:`Stream.resume`: it has been used."""
    resume, stream.resume = stream.resume, None
    if resume is None or pipeline is None:
        return
    for stage in pipeline.ingress:
        if isinstance(stage, SrtpDecrypt) and resume.rocs_in:
            stage.resume(resume.rocs_in)
    for stage in pipeline.egress:
        if isinstance(stage, SrtpEncrypt) and resume.rocs_out:
            stage.resume(resume.rocs_out)
