"""Builds the transcoding part of each stream's pipeline from the call model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rtpgate.api import Media, Pipeline, Stream

from .amr_modes import ModeRequest
from .cn import CnSettings
from .delay import linear
from .plan import plan
from .stage import TranscodeStage

if TYPE_CHECKING:
    from rtpgate.api import Runtime

KEY = "transcode"
#: A subscription's stage (publish/subscribe), on its own key: a media is either a subscriber
#: or has an offer/answer peer.
SUBSCRIBED = "transcode subscribed"
#: The AMR mode requests a party sent (read by the stage encoding towards it).
CMR_KEY = "transcode.amr-cmr"


def requests(media: Media) -> ModeRequest:
    """The AMR mode requests of ``media``'s party, made on first use."""
    found = media.plugin_state.get(CMR_KEY)
    if not isinstance(found, ModeRequest):
        found = media.plugin_state[CMR_KEY] = ModeRequest()
    return found


class TranscodeFactory:
    """A :class:`rtpgate.api.PipelineFactory`: the stage of RTP from a stream's party
    (ingress, after decryption), shared by the media's RTP and RTCP streams and kept while its
    plan stays the same (its codecs and stream state survive re-INVITEs).  The stage lives in
    the media's ``plugin_state``, so it goes with the media.  ``runtime`` lets the stage send
    the packets it makes beyond one per packet received (a shorter ptime) from the peer's
    relay stream; without one (tests) they wait for the next packet."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self._runtime = runtime
        self._cn: CnSettings | None = None

    @property
    def cn(self) -> CnSettings:
        """The comfort noise and DTX options (read on first use: the settings are made after
        the plugins' hooks)."""
        if self._cn is None:
            self._cn = CnSettings.of(self._runtime)
        return self._cn

    def __call__(self, stream: Stream, current: Pipeline | None) -> Pipeline | None:
        media = stream.media
        if media.source is not None:
            return self._subscribed(media)
        was = media.plugin_state.pop(SUBSCRIBED, None)
        if isinstance(was, TranscodeStage):  # no longer a subscription
            was.close()
        peer = media.monologue.peers[0] if media.monologue.peers else None
        peer_media = peer.media(media.index) if peer is not None else None
        wanted = plan(media, peer_media, bool(self.cn.silence)) if peer_media is not None \
            else None
        if wanted is None or peer_media is None:
            media.plugin_state.pop(KEY, None)
            return None
        stage = media.plugin_state.get(KEY)
        if not isinstance(stage, TranscodeStage) or stage.plan.key() != wanted.key():
            if isinstance(stage, TranscodeStage):
                stage.close()
            stage = TranscodeStage(wanted, self._sender(peer_media), self.cn,
                                   (requests(media), requests(peer_media)))
            media.plugin_state[KEY] = stage
        stage.linear = linear(media)
        if self._runtime is not None and wanted.dtmf_out is not None:
            log, rtp = self._runtime.engine.dtmf_log, media.streams[0]
            stage.heard_digit = lambda event, ms: log.report(rtp, event, 10, ms)
        return Pipeline(ingress=(stage,))

    def _sender(self, sink: Media) -> TranscodeStage.Send | None:
        runtime = self._runtime
        if runtime is None:
            return None

        def send(data: bytes, stage: TranscodeStage) -> bool:
            relay_stream = runtime.engine.relay.streams.get(sink.streams[0]) \
                if sink.streams else None
            return relay_stream is not None and not relay_stream.closed and \
                relay_stream.send_made(data, stage)
        return send

    def _subscribed(self, media: Media) -> Pipeline | None:
        """A subscriber whose codec differs from its source's: the copies it gets are
        transcoded on the way out (egress), each subscriber with its own chains, SSRC and
        sequence numbers."""
        assert media.source is not None
        wanted = plan(media.source, media, bool(self.cn.silence))
        stage = media.plugin_state.get(SUBSCRIBED)
        if wanted is None:
            if isinstance(stage, TranscodeStage):
                stage.close()
            media.plugin_state.pop(SUBSCRIBED, None)
            return None
        if not isinstance(stage, TranscodeStage) or stage.plan.key() != wanted.key():
            if isinstance(stage, TranscodeStage):
                stage.close()
            stage = TranscodeStage(wanted, self._sender(media), self.cn)
            media.plugin_state[SUBSCRIBED] = stage
        return Pipeline(egress=(stage,))
