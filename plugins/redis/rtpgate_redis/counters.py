"""What the plugin counts (read by ``/metrics`` through :mod:`.metrics`, and by the tests)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RedisCounters:
    #: Calls written (SET) and deleted (DEL) successfully.
    writes: int = 0
    deletes: int = 0
    #: Failed Redis operations (connection refused or lost, timeout, OOM, ...).
    errors: int = 0
    #: Times Redis went away and came back (each followed by a rewrite of every own call).
    outages: int = 0
    recoveries: int = 0
    #: Calls restored at startup, and keys that could not be restored (garbage, ports taken).
    restored: int = 0
    restore_failures: int = 0
    #: Foreign calls taken from keyspace notifications, and those taken over.
    foreign_restored: int = 0
    takeovers: int = 0
    #: Writes waiting (kept in memory while Redis is away).
    pending: int = 0
    #: Whether Redis answers now.
    connected: bool = False
