"""What the engine's other users may ask of a call-state store (``engine.store``).

A plugin that persists calls (in Redis, say) sets ``runtime.engine.store`` to an object with
this shape at startup; the CLI's keyspace and ``redis*`` commands use it when it is there and
answer rtpengine's "not configured" texts when it is not.  Core never names the plugin.
"""

from __future__ import annotations

from typing import Protocol


class CallStore(Protocol):
    """A call-state store (rtpengine's Redis), as the CLI sees it."""

    def keyspaces(self) -> list[int]:
        """The databases whose keyspace notifications are followed, in subscription order."""

    def subscribe(self, db: int) -> bool:
        """Follow database ``db`` (its calls appear as foreign); False if it already is."""

    def unsubscribe(self, db: int) -> bool:
        """Stop following ``db`` and drop its foreign calls; False if it was not followed."""

    @property
    def notifying(self) -> bool:
        """Whether keyspace notifications are configured at all (``--subscribe-keyspace``)."""

    @property
    def writes_disabled(self) -> bool:
        """Whether writing was switched off (the CLI's ``set redisdisable 1``)."""

    def disable_writes(self, disabled: bool) -> None:
        """Switch writing off or on again; switching on writes every own call anew."""
