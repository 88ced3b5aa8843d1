"""Fixtures for limits, budgets, shaping and cache tests: a Redis namespace of our own."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from backend.storage.redis_client import scan_delete

REDIS_URL = os.environ.get("REPLYWISE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass(frozen=True)
class RedisNamespace:
    url: str
    prefix: str
    client: redis.Redis

    def keys(self) -> list[str]:
        return sorted(k.decode() for k in self.client.scan_iter(match=self.prefix + "*"))


@pytest.fixture
def redis_ns() -> Iterator[RedisNamespace]:
    """Redis with a key prefix unique to this test; only those keys are deleted afterwards.

    Redis must be reachable (CI runs it): where it is not, these tests fail rather than skip.
    """
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.fail(f"Redis at {REDIS_URL} is required for the limits tests: {exc}")
    ns = RedisNamespace(REDIS_URL, f"rwtest:{uuid.uuid4().hex[:12]}:", client)
    yield ns
    scan_delete(client, ns.prefix + "*")
    client.close()
