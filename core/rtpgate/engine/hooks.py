"""What the engine asks of the plugins: the engine-side hooks, typed, with the runtime bound.

The plugin host provides it (:meth:`rtpgate.plugins.PluginHost.engine_hooks`), so the engine
never calls a hook by name and knows nothing of the host or the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .callrelay import PipelineFactory
    from .codec_support import CodecCapability
    from .model import Call
    from .playback import MediaPlayers


class EngineHooks(Protocol):
    """One method per engine-side hook of :mod:`rtpgate.hookspecs`."""

    def call_changed(self, call: Call) -> None:
        """``rtpgate_call_changed``; a failing implementation is logged, the others run."""

    def call_ended(self, call: Call) -> None:
        """``rtpgate_call_ended``; a failing implementation is logged, the others run."""

    async def calls_restore(self) -> None:
        """``rtpgate_calls_restore``, awaited implementation after implementation; a failing
        one is logged, the others run."""

    def media_codecs(self) -> Sequence[CodecCapability]:
        """Every ``rtpgate_media_codecs`` contribution, in hook order."""

    def media_pipeline(self) -> Sequence[PipelineFactory]:
        """Every ``rtpgate_media_pipeline`` contribution, in hook order."""

    def media_players(self) -> Sequence[MediaPlayers]:
        """Every ``rtpgate_media_players`` contribution, in hook order."""
