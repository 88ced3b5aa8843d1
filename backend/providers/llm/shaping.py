"""Upstream shaping: Replywise itself never exceeds a provider's quota.

Per provider (keys of its REPLYWISE_PROVIDERS entry): `rpm` calls started and `tpm` tokens
(prompt estimate + max_tokens, which is how OpenAI and Azure count a request against TPM) in any
sliding 60 seconds, and `max_concurrency` calls in flight. A call that does not fit waits in a
bounded queue (`max_queue` callers per worker, at most `queue_timeout_s` and never past the
draft's deadline); when the queue is full or the wait runs out it raises ProviderSaturated, the
chain fails over to the next provider, and when nothing is left the request gets a 503 with
Retry-After.

The state is shared through Redis (one Lua script per attempt: sliding-window logs in sorted
sets, in-flight calls as leases that expire if a worker dies) when configured, and held in the
process otherwise. Without Redis each worker enforces the full quota on its own, so divide the
quota by the number of workers in that case. If Redis cannot be reached we refuse the call
(fail closed): exceeding the quota is what shaping exists to prevent.

Waiting is not strictly first-come-first-served: a freed slot goes to whichever waiter asks
first. With short waits (tens of milliseconds) that is fair enough.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.drafting.tokens import estimate_tokens
from backend.providers.llm.base import (
    CompletionRequest,
    LLMProvider,
    ProviderConfig,
    ProviderSaturated,
    StreamEvent,
)

log = logging.getLogger(__name__)

WINDOW_S = 60.0
_REDIS_POLL_S = 0.05  # waiting on shared state: re-ask Redis at most this often


@dataclass(frozen=True)
class Caps:
    """One provider's caps (None = uncapped)."""

    rpm: int | None
    tpm: int | None
    max_concurrency: int | None
    max_queue: int
    queue_timeout_s: float

    @classmethod
    def of(cls, config: ProviderConfig) -> "Caps":
        queue = config.max_queue
        if queue is None:
            queue = 4 * config.max_concurrency if config.max_concurrency else 100
        return cls(config.rpm, config.tpm, config.max_concurrency, queue, config.queue_timeout_s)


class ShapingState(Protocol):
    """Where the windows and in-flight calls of every provider are counted."""

    def try_acquire(self, name: str, caps: Caps, tokens: int, lease_s: float
                    ) -> tuple[str | None, float]:
        """(permit, 0) when the call may start now; else (None, seconds until it might)."""
        ...

    def release(self, name: str, permit: str) -> None:
        """The call has ended: free its concurrency slot."""
        ...

    def wait(self, name: str, seconds: float) -> None:
        """Sleep until a slot may have freed (or `seconds` pass)."""
        ...


@dataclass
class _Local:
    calls: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0
    active: int = 0
    releases: int = 0  # bumped by every release, so a waiter can tell it missed one
    cond: threading.Condition = field(default_factory=threading.Condition)


class LocalShapingState:
    """Per-process state: a sliding log of call starts and token reservations per provider."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._providers: dict[str, _Local] = {}
        self._seen = threading.local()  # releases counted at this thread's last try

    def _of(self, name: str) -> _Local:
        with self._lock:
            return self._providers.setdefault(name, _Local())

    def try_acquire(self, name: str, caps: Caps, tokens: int, lease_s: float
                    ) -> tuple[str | None, float]:
        p = self._of(name)
        with p.cond:
            setattr(self._seen, name, p.releases)
            now = self._clock()
            while p.calls and p.calls[0] <= now - WINDOW_S:
                p.calls.popleft()
            while p.tokens and p.tokens[0][0] <= now - WINDOW_S:
                p.token_sum -= p.tokens.popleft()[1]
            wait = 0.0
            if caps.rpm is not None and len(p.calls) >= caps.rpm:
                wait = max(wait, p.calls[0] + WINDOW_S - now)
            if caps.tpm is not None and p.token_sum + tokens > caps.tpm:
                need, freed = p.token_sum + tokens - caps.tpm, 0
                for started, amount in p.tokens:
                    freed += amount
                    if freed >= need:
                        wait = max(wait, started + WINDOW_S - now)
                        break
            if caps.max_concurrency is not None and p.active >= caps.max_concurrency:
                wait = max(wait, lease_s)  # woken by release()
            if wait > 0:
                return None, wait
            p.calls.append(now)
            if caps.tpm is not None:
                p.tokens.append((now, tokens))
                p.token_sum += tokens
            p.active += 1
            return "local", 0.0

    def release(self, name: str, permit: str) -> None:
        p = self._of(name)
        with p.cond:
            p.active -= 1
            p.releases += 1
            # Every waiter re-checks: the one woken might give up at this very moment.
            p.cond.notify_all()

    def wait(self, name: str, seconds: float) -> None:
        p = self._of(name)
        with p.cond:
            if p.releases == getattr(self._seen, name, None):  # else one slipped by: retry now
                p.cond.wait(seconds)


# KEYS: calls, tokens, in-flight sorted sets. ARGV: rpm, tpm, max_concurrency (-1: none),
# tokens, permit id, lease seconds. Returns "0" when admitted, else seconds to wait (a string:
# Redis would truncate a Lua number to an integer).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rpm, tpm, conc = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, id, lease = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local wait = 0
if rpm >= 0 and redis.call('ZCARD', KEYS[1]) >= rpm then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(wait, tonumber(oldest[2]) + 60 - now)
end
if tpm >= 0 then
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local used = 0
  for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
  if used + tokens > tpm then
    local need, freed = used + tokens - tpm, 0
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if freed >= need then wait = math.max(wait, tonumber(entries[i + 1]) + 60 - now) break end
    end
  end
end
if conc >= 0 and redis.call('ZCARD', KEYS[3]) >= conc then wait = math.max(wait, 0.05) end
if wait > 0 then return tostring(wait) end
redis.call('ZADD', KEYS[1], now, id)
if tpm >= 0 then redis.call('ZADD', KEYS[2], now, id .. ':' .. tokens) end
redis.call('ZADD', KEYS[3], now + lease, id)
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], math.ceil(60 + lease)) end
return '0'
"""


class RedisShapingState:
    """State shared by every worker and instance through Redis."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._acquire = client.register_script(_ACQUIRE)

    def _keys(self, name: str) -> list[str]:
        base = f"{self._prefix}shape:{{{name}}}"
        return [f"{base}:calls", f"{base}:tokens", f"{base}:inflight"]

    def try_acquire(self, name: str, caps: Caps, tokens: int, lease_s: float
                    ) -> tuple[str | None, float]:
        permit = uuid.uuid4().hex
        args = [_or_none(caps.rpm), _or_none(caps.tpm), _or_none(caps.max_concurrency), tokens,
                permit, round(lease_s, 3)]
        try:
            wait = float(self._acquire(keys=self._keys(name), args=args))
        except Exception as exc:  # noqa: BLE001 - any Redis failure: refuse, never overrun
            log.error("shaping state unreachable", extra={"error_type": type(exc).__name__})
            raise ProviderSaturated(name, "shaping state unavailable") from None
        return (permit, 0.0) if wait <= 0 else (None, wait)

    def release(self, name: str, permit: str) -> None:
        try:
            self._client.zrem(self._keys(name)[2], permit)
        except Exception as exc:  # noqa: BLE001 - the lease expires on its own
            log.warning("could not release a shaping slot",
                        extra={"error_type": type(exc).__name__})

    def wait(self, name: str, seconds: float) -> None:
        time.sleep(min(seconds, _REDIS_POLL_S) * (0.5 + random.random() / 2))


def _or_none(value: int | None) -> int:
    return -1 if value is None else value


class Shaper:
    """Admits calls to shaped providers, queueing (boundedly) what does not fit yet."""

    def __init__(self, state: ShapingState,
                 on_queue_depth: Callable[[str, int], None] | None = None) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._waiting: dict[str, int] = {}
        # Told the new number of waiting calls whenever it changes (the /metrics gauge).
        self.on_queue_depth = on_queue_depth

    def waiting(self, name: str) -> int:
        return self._waiting.get(name, 0)

    def acquire(self, name: str, caps: Caps, tokens: int, max_wait_s: float, lease_s: float
                ) -> str:
        """A permit for one call, or ProviderSaturated when the queue is full or time is up."""
        if caps.tpm is not None:
            tokens = min(tokens, caps.tpm)  # a huge request needs the whole window, not forever
        permit, wait = self.state.try_acquire(name, caps, tokens, lease_s)
        if permit is not None:
            return permit
        with self._lock:
            if self._waiting.get(name, 0) >= caps.max_queue:
                raise ProviderSaturated(name, "provider queue full", retry_after=wait)
            self._waiting[name] = depth = self._waiting.get(name, 0) + 1
        self._report(name, depth)
        try:
            deadline = time.monotonic() + max_wait_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProviderSaturated(name, "provider saturated", retry_after=wait)
                self.state.wait(name, min(wait, remaining))
                permit, wait = self.state.try_acquire(name, caps, tokens, lease_s)
                if permit is not None:
                    return permit
        finally:
            with self._lock:
                self._waiting[name] = depth = self._waiting[name] - 1
            self._report(name, depth)

    def _report(self, name: str, depth: int) -> None:
        if self.on_queue_depth is not None:
            try:
                self.on_queue_depth(name, depth)
            except Exception:  # a metrics hiccup must not fail or strand a queued call
                log.exception("could not report the provider queue depth")


class ShapedProvider:
    """An LLMProvider whose calls pass through a Shaper first; otherwise the inner provider."""

    def __init__(self, inner: LLMProvider, caps: Caps, shaper: Shaper) -> None:
        self.inner = inner
        self.caps = caps
        self.shaper = shaper
        self.name = inner.name
        self.model = inner.model
        self.region = inner.region

    def __getattr__(self, attribute: str) -> Any:
        # timeout_s, is_local, config, close, ...: whatever the wrapped provider offers.
        return getattr(self.inner, attribute)

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[StreamEvent]:
        """Wait for a slot (boundedly), then stream from the inner provider; always release."""
        tokens = sum(estimate_tokens(m.content) for m in request.messages) + request.max_tokens
        started = time.monotonic()
        permit = self.shaper.acquire(self.name, self.caps, tokens,
                                     max_wait_s=min(self.caps.queue_timeout_s, timeout),
                                     lease_s=timeout + 30.0)
        try:
            remaining = max(0.1, timeout - (time.monotonic() - started))
            yield from self.inner.stream(request, remaining)
        finally:
            self.shaper.state.release(self.name, permit)

    def __repr__(self) -> str:
        return f"ShapedProvider({self.inner!r}, {self.caps})"


def shape(providers: list[LLMProvider], configs: tuple[ProviderConfig, ...],
          redis: Any | None, prefix: str) -> list[LLMProvider]:
    """Wrap the providers that have caps configured; one Shaper (and state) per process."""
    if not any(c.shaped for c in configs):
        return providers
    shaper = Shaper(RedisShapingState(redis, prefix) if redis is not None
                    else LocalShapingState())
    return [ShapedProvider(p, Caps.of(c), shaper) if c.shaped else p
            for p, c in zip(providers, configs)]
