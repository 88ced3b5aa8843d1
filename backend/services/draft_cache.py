"""The draft cache: the same request from the same user, within the TTL, costs no provider call.

What is cached is exactly what left for the provider and came back: the key is a keyed hash
of the REDACTED prompt (messages with placeholders, whitespace-normalised), the generation
options and the provider chain (names and models), under a keyed hash of tenant + user; the
value is the provider's REDACTED output (placeholders, never the values) with its model and
usage. A hit is restored with the current request's own mapping, exactly like a fresh answer.
Neither key nor value ever holds a redacted value or the user's id in plain text, and entries
are never shared between users: the user is part of every key.

Redis (SET with EX) when configured, so every worker and instance shares the cache; otherwise
an LRU in each worker. Cache failures are misses: the cache saves money, it must never fail a
draft. Erasure deletes a user's entries (Redis: by their key prefix; in-process: this worker's,
while other workers' become unreachable because an erased user's id is never reused, and expire
within the TTL).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from backend.governance.identity import Principal
from backend.providers.llm.base import CompletionRequest, LLMProvider
from backend.services.runtime import Runtime
from backend.storage.redis_client import scan_delete

log = logging.getLogger(__name__)

_VERSION = 1  # bump when the prompt or the cached shape changes meaning


@dataclass(frozen=True)
class CachedDraft:
    """A provider answer as it came back: redacted text, model and usage."""

    text: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class CacheKey:
    user: str    # keyed hash of tenant + user: erasure finds a user's entries by it
    digest: str  # keyed hash of the request


class DraftCache(Protocol):
    def get(self, key: CacheKey) -> CachedDraft | None: ...

    def put(self, key: CacheKey, value: CachedDraft, ttl_s: int) -> None: ...

    def forget_user(self, user: str) -> None: ...


class MemoryDraftCache:
    """An LRU with per-entry expiry, for one worker process."""

    def __init__(self, max_entries: int, clock=time.monotonic) -> None:
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[CacheKey, tuple[float, bytes]] = OrderedDict()

    def get(self, key: CacheKey) -> CachedDraft | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return _decode(entry[1])

    def put(self, key: CacheKey, value: CachedDraft, ttl_s: int) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + ttl_s, _encode(value))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget_user(self, user: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k.user == user]:
                del self._entries[key]

    def raw_items(self) -> list[tuple[CacheKey, bytes]]:
        """Everything stored, as stored (tests check no plaintext ever lands here)."""
        with self._lock:
            return [(k, v) for k, (_, v) in self._entries.items()]


class RedisDraftCache:
    """Entries in Redis under `<prefix>dc:<user hash>:<request hash>`, expiring by TTL."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _key(self, key: CacheKey) -> str:
        return f"{self._prefix}dc:{key.user}:{key.digest}"

    def get(self, key: CacheKey) -> CachedDraft | None:
        try:
            raw = self._client.get(self._key(key))
        except Exception as exc:  # noqa: BLE001 - a cache outage is a miss
            log.warning("draft cache unreachable", extra={"error_type": type(exc).__name__})
            return None
        return _decode(raw) if raw else None

    def put(self, key: CacheKey, value: CachedDraft, ttl_s: int) -> None:
        try:
            self._client.set(self._key(key), _encode(value), ex=ttl_s)
        except Exception as exc:  # noqa: BLE001
            log.warning("draft cache unreachable", extra={"error_type": type(exc).__name__})

    def forget_user(self, user: str) -> None:
        scan_delete(self._client, f"{self._prefix}dc:{user}:*")


def _encode(value: CachedDraft) -> bytes:
    return json.dumps({"v": _VERSION, **asdict(value)}, separators=(",", ":")).encode()


def _decode(raw: bytes) -> CachedDraft | None:
    try:
        data = json.loads(raw)
        if data.pop("v", None) != _VERSION:
            return None
        return CachedDraft(**data)
    except (ValueError, TypeError):
        return None


def cache(rt: Runtime) -> DraftCache:
    """This process's cache: Redis when configured, else an in-process LRU."""
    current = rt.caches.get("draft_cache")
    if current is None:
        redis = rt.caches.get("redis")
        current = (RedisDraftCache(redis, rt.settings.redis_prefix) if redis is not None
                   else MemoryDraftCache(rt.settings.draft_cache_max_entries))
        current = rt.caches.setdefault("draft_cache", current)
    return current  # type: ignore[return-value]


def enabled(rt: Runtime) -> bool:
    return rt.settings.draft_cache_ttl_s > 0


def user_tag(rt: Runtime, tenant_id: str, user_id: str) -> str:
    """The keyed hash standing for one user in cache keys."""
    return rt.pseudonymizer.pseudonym("draftcacheuser", f"{tenant_id}:{user_id}")[3:]


def key_for(rt: Runtime, principal: Principal, request: CompletionRequest,
            providers: Sequence[LLMProvider]) -> CacheKey:
    """The cache key of this (already redacted) request for this user and provider chain."""
    material = json.dumps({
        "v": _VERSION,
        "messages": [[m.role, " ".join(m.content.split())] for m in request.messages],
        "max_tokens": request.max_tokens, "temperature": request.temperature,
        "chain": [[p.name, p.model] for p in providers],
    }, sort_keys=True, ensure_ascii=False)
    # Hash first, then key the hash: the keyed pseudonym lower-cases its input, which is
    # harmless on hex but would merge messages that differ only in case.
    digest = hashlib.sha256(material.encode()).hexdigest()
    return CacheKey(user=user_tag(rt, principal.tenant_id, principal.user_id or ""),
                    digest=rt.pseudonymizer.pseudonym("draftcache", digest)[3:])


def forget_user(rt: Runtime, tenant_id: str, user_id: str) -> None:
    """Erasure hook: delete the person's cached drafts."""
    cache(rt).forget_user(user_tag(rt, tenant_id, user_id))
