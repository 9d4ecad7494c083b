"""The plugin's options, with rtpengine's names, short flags and defaults, and the parsing of
its ``[PW@]HOST:PORT/DB`` addresses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field
from rtpgate.api import Option, SettingsView

Millis = Annotated[int, Field(ge=0)]

OPTIONS: tuple[Option, ...] = (
    Option("redis", str | None, None,
           "Redis server and database that calls are restored from (and written to unless "
           "--redis-write is given): [PW@]HOST:PORT/DB", short="-r", metavar="[PW@]IP:PORT/INT"),
    Option("redis-write", str | None, None, "Redis server and database that calls are "
           "written to: [PW@]HOST:PORT/DB", short="-w", metavar="[PW@]IP:PORT/INT"),
    Option("redis-subscribe", str | None, None,
           "Redis server for keyspace notifications (default: --redis's): [PW@]HOST:PORT[/DB]",
           metavar="[PW@]IP:PORT/INT"),
    Option("subscribe-keyspace", list[int], [],
           "follow this database's keyspace notifications: its calls appear here as foreign "
           "calls; repeat for more", short="-k", metavar="INT"),
    Option("redis-expires", Annotated[int, Field(ge=1)], 86400,
           "expiry time in seconds of the call keys", metavar="INT"),
    Option("redis-format", Literal["bencode", "json", "JSON", "native"], "bencode",
           "format of the call data written (both are read): bencode or JSON",
           metavar="bencode|JSON"),
    Option("redis-num-threads", Annotated[int, Field(ge=1)], 4,
           "restore: how many batches of calls are fetched from Redis at once", metavar="INT"),
    Option("redis-allowed-errors", int, -1,
           "errors in a row before Redis is left alone for --redis-disable-time seconds "
           "(-1: never)", metavar="INT"),
    Option("redis-disable-time", Annotated[int, Field(ge=0)], 10,
           "seconds Redis is left alone after --redis-allowed-errors errors in a row",
           metavar="INT"),
    Option("redis-cmd-timeout", Millis, 0,
           "milliseconds a Redis command may take (0: no limit)", metavar="INT"),
    Option("redis-connect-timeout", Millis, 1000,
           "milliseconds a Redis connection attempt may take", metavar="INT"),
    Option("redis-delete-async", Annotated[int, Field(ge=0)], 0,
           "accepted for rtpengine: rtpgate's Redis deletes are always asynchronous",
           metavar="INT"),
    Option("redis-delete-async-interval", Annotated[int, Field(ge=0)], 1,
           "accepted for rtpengine (see --redis-delete-async)", metavar="INT"),
    Option("no-redis-required", bool, False,
           "accepted for rtpengine: rtpgate always starts when Redis is unreachable", short="-q"),
    Option("active-switchover", bool, False,
           "take a foreign call over when media arrives for it"),
)


class RedisSettings(SettingsView):
    """The options above that the store reads (at each use: the CLI may change them)."""

    redis: str | None
    redis_write: str | None
    redis_subscribe: str | None
    subscribe_keyspace: list[int]
    redis_expires: int
    redis_format: str
    redis_num_threads: int
    redis_allowed_errors: int
    redis_disable_time: int
    redis_cmd_timeout: int
    redis_connect_timeout: int
    active_switchover: bool


class AddressError(ValueError):
    """A malformed ``[PW@]HOST:PORT/DB``."""


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    password: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "db": self.db, "password": self.password}


def parse_address(text: str, password_env: str, db_required: bool = True) -> RedisAddress:
    """rtpengine's ``redis_ep_parse``: ``[PW@]HOST:PORT/DB``; the password may also come from
    the environment variable ``password_env``."""
    password: str | None = None
    if "@" in text:
        password, _, text = text.rpartition("@")
    password = password or os.environ.get(password_env) or None
    hostport, slash, db_text = text.partition("/")
    if not slash and db_required:
        raise AddressError(f"invalid Redis address {text!r}: no /DB")
    host, colon, port_text = hostport.rpartition(":")
    if not colon or not port_text.isdigit() or not host:
        raise AddressError(f"invalid Redis address {text!r}: want HOST:PORT/DB")
    if slash and not db_text.isdigit():
        raise AddressError(f"invalid Redis address {text!r}: DB is not a number")
    port = int(port_text)
    if not 0 < port < 65536:
        raise AddressError(f"invalid Redis address {text!r}: bad port")
    return RedisAddress(host.strip("[]"), port, int(db_text) if db_text else 0, password)
