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

log = logging.getLogger("rtpgate.ng")
_warned_keys: set[str] = set()


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
    def warn_unknown(cls, raw: dict[str, Any]) -> None:
        """Log each unknown top-level key once per process (rtpengine logs every time)."""
        known = _known(cls)
        for name in raw:
            if name not in known and name not in _warned_keys:
                _warned_keys.add(name)
                log.warning("Unknown dictionary key encountered: %r (ignored)", name)


_known_cache: dict[type[NgRequest], frozenset[str]] = {}


def _known(cls: type[NgRequest]) -> frozenset[str]:
    keys = _known_cache.get(cls)
    if keys is None:
        keys = _known_cache[cls] = cls.known_keys()
    return keys


def _flag_norm(name: str) -> str:
    return name.replace("_", "-").replace(" ", "-").lower()
