"""Builds the transcoding part of each stream's pipeline from the call model."""

from __future__ import annotations

from rtpgate.api import Pipeline, Stream

from .plan import plan
from .stage import TranscodeStage

KEY = "transcode"


class TranscodeFactory:
    """A :class:`rtpgate.api.PipelineFactory`: the stage of RTP from a stream's party
    (ingress, after decryption), shared by the media's RTP and RTCP streams and kept while its
    plan stays the same (its codecs and stream state survive re-INVITEs).  The stage lives in
    the media's ``plugin_state``, so it goes with the media."""

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        media = stream.media
        peer = media.monologue.peers[0] if media.monologue.peers else None
        peer_media = peer.media(media.index) if peer is not None else None
        wanted = plan(media, peer_media) if peer_media is not None else None
        if wanted is None:
            media.plugin_state.pop(KEY, None)
            return None
        stage = media.plugin_state.get(KEY)
        if not isinstance(stage, TranscodeStage) or stage.plan.key() != wanted.key():
            stage = TranscodeStage(wanted)
            media.plugin_state[KEY] = stage
        return Pipeline(ingress=(stage,))
