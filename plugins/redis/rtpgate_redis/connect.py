"""Redis clients with the plugin's timeouts: redis-py's ``redis.asyncio`` (hiredis is used when
installed), no retries of its own (the plugin retries with its own back-off and counts)."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .options import RedisAddress, RedisSettings


def client(address: RedisAddress, settings: RedisSettings, db: int | None = None
           ) -> aioredis.Redis:
    cmd = settings.redis_cmd_timeout
    kwargs = address.client_kwargs()
    if db is not None:
        kwargs["db"] = db
    return aioredis.Redis(**kwargs, socket_timeout=cmd / 1000 if cmd else None,
                          socket_connect_timeout=max(settings.redis_connect_timeout, 1) / 1000,
                          retry=Retry(NoBackoff(), 0), retry_on_timeout=False)
