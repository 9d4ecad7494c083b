"""Base of every ng request model.

rtpengine accepts several spellings of most keys (``call-id``, ``call id``, ``call-ID``), ints as
numbers or numeric strings, and ignores unknown keys with a warning.  Models declare each field
with its accepted spellings (:func:`key`) and the error text rtpengine gives when a required
key is missing (``required`` on the class), which the dispatcher checks in declaration order.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from ..loglimit import LogLimiter, clip

log = logging.getLogger("rtpgate.ng")
#: Unknown-key warnings: at most one per source (the control client's address) and minute.
UNKNOWN_KEYS = LogLimiter(interval=60.0)
#: Unknown keys named in that warning.
SHOWN_KEYS = 5


def key(*spellings: str, default: Any = None) -> Any:
    """A field readable under each of rtpengine's ``spellings`` of its key."""
    return Field(default=default, validation_alias=AliasChoices(*spellings))


class NgRequest(BaseModel):
    """Common keys of every command."""

    model_config = ConfigDict(extra="ignore", populate_by_name=False, frozen=False)

    #: Field name -> error reason when the key is missing or empty, checked in this order.
    required: ClassVar[dict[str, str]] = {}

    command: str
    flags: list[str] = Field(default_factory=list)

    @field_validator("flags", mode="before")
    @classmethod
    def _flag_strings(cls, value: Any) -> Any:
        # rtpengine processes only the string elements of a flags list (json_list_iter)
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
        return value

    def missing(self) -> str | None:
        """rtpengine's reason for the first required key that is absent or empty."""
        for name, reason in self.required.items():
            if not getattr(self, name):
                return reason
        return None

    def has_flag(self, *names: str) -> bool:
        """Whether ``flags`` holds one of ``names``; rtpengine treats ``-``, ``_`` and space
        in flag names alike and compares case-insensitively."""
        wanted = {_flag_norm(n) for n in names}
        return any(_flag_norm(f) in wanted for f in self.flags)

    @classmethod
    def known_keys(cls) -> frozenset[str]:
        keys: set[str] = set()
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            if isinstance(alias, AliasChoices):
                keys.update(str(choice) for choice in alias.choices)
            else:
                keys.add(name)
        return frozenset(keys)

    @classmethod
    def warn_unknown(cls, raw: dict[str, Any], source: str = "unknown") -> None:
        """One warning per message naming how many top-level keys are unknown and the first
        few (rtpengine logs one line per key, which a message with 100,000 keys turned into a
        9 MB stall), at most one per source and minute (:data:`UNKNOWN_KEYS`)."""
        known = _known(cls)
        unknown = [name for name in raw if name not in known]
        if not unknown:
            return
        shown = ", ".join(clip(name, 40) for name in unknown[:SHOWN_KEYS])
        if len(unknown) == 1:
            UNKNOWN_KEYS.log(log, logging.WARNING, source,
                             "Unknown dictionary key encountered: %s (ignored)", shown)
        else:
            more = ", ..." if len(unknown) > SHOWN_KEYS else ""
            UNKNOWN_KEYS.log(log, logging.WARNING, source,
                             "Unknown dictionary keys encountered: %d (%s%s) (ignored)",
                             len(unknown), shown, more)


_known_cache: dict[type[NgRequest], frozenset[str]] = {}


def _known(cls: type[NgRequest]) -> frozenset[str]:
    keys = _known_cache.get(cls)
    if keys is None:
        keys = _known_cache[cls] = cls.known_keys()
    return keys


def _flag_norm(name: str) -> str:
    return name.replace("_", "-").replace(" ", "-").lower()
