"""The Redis connection, when REPLYWISE_REDIS_URL is set: shared limits, shaping and the cache.

One client (and so one connection pool) per process; redis-py clients are thread-safe. Short
socket timeouts: Redis answers in well under a millisecond, so a call that takes seconds means
Redis is unwell, and a drafting thread should learn that quickly rather than hang.
"""
from __future__ import annotations

from typing import Any


def connect(url: str, max_connections: int = 64) -> Any:
    """A client for `url` (redis:// or rediss://). Connects lazily, on the first command.

    A blocking pool: with hundreds of threads per worker, a burst waits a moment for one of
    `max_connections` connections (each command takes well under a millisecond) instead of
    failing with "too many connections" as the default pool does.
    """
    import redis  # the optional extra `redis`: needed only when REPLYWISE_REDIS_URL is set

    pool = redis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=2.0, socket_timeout=2.0,
        socket_connect_timeout=2.0, health_check_interval=30)
    return redis.Redis(connection_pool=pool, decode_responses=False)


def close(client: Any) -> None:
    """Close the client and every pooled connection (the pool was passed in, so it is ours)."""
    client.close()
    client.connection_pool.disconnect()


def scan_delete(client: Any, pattern: str, batch: int = 500) -> int:
    """Delete every key matching `pattern` (SCAN, never KEYS: it would block Redis)."""
    deleted = 0
    keys: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=batch):
        keys.append(key)
        if len(keys) >= batch:
            deleted += client.unlink(*keys)
            keys = []
    if keys:
        deleted += client.unlink(*keys)
    return deleted
