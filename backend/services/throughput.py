"""Where the drafting pipeline meets limits, budgets and the draft cache (issue 7).

`enter` runs after prepare() and before anything is streamed, so a refusal is a plain 429:
look the request up in the draft cache (unless Regenerate), then admit it against the limits,
reserving tokens only when a provider will really be called. `account` runs when the draft is
finished: a cache hit is recorded as such, with the money it saved; a fresh completed answer is
stored in the cache; the budget reservation is settled to the tokens actually used. `settle`
with 0 releases a reservation that was never used (failures, refusals, the client leaving).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from backend.drafting.tokens import estimate_tokens
from backend.errors import ServiceUnavailable
from backend.governance.identity import Principal
from backend.providers.llm.base import CompletionRequest, LLMProvider, ProviderSaturated, Usage
from backend.providers.llm.chain import AllProvidersFailed
from backend.providers.llm.shaping import ShapedProvider
from backend.services import draft_cache, limits, metrics
from backend.services.runtime import Runtime

log = logging.getLogger(__name__)
_NOTHING = Decimal("0.000000")  # costs are quantised to micro-dollars everywhere


@dataclass
class Gate:
    """What `enter` decided for one draft."""

    cache_key: draft_cache.CacheKey | None = None
    hit: draft_cache.CachedDraft | None = None
    admission: limits.Admission | None = None


class ProvidersSaturated(ServiceUnavailable):
    """Every provider that could take the draft is at its configured quota: come back later."""

    code = "providers_saturated"

    def __init__(self, retry_after: int):
        super().__init__("The AI providers are at capacity right now. Please try again in a "
                         "moment.", retry_after=retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra["retry_after"])}


def reservation(request: CompletionRequest) -> int:
    """Tokens reserved before a provider call: the prompt estimate plus the output cap."""
    return sum(estimate_tokens(m.content) for m in request.messages) + request.max_tokens


def enter(rt: Runtime, principal: Principal, request: CompletionRequest,
          providers: list[LLMProvider], *, surface: str, regenerate: bool) -> Gate:
    """Cache lookup, then admission (raises RateLimited). Call before streaming anything."""
    gate = Gate()
    remote = [p for p in providers if not getattr(p, "is_local", False)]
    if remote and draft_cache.enabled(rt):
        gate.cache_key = draft_cache.key_for(rt, principal, request, providers)
        if not regenerate:
            gate.hit = draft_cache.cache(rt).get(gate.cache_key)
    # Budgets count provider tokens: a cache hit and the offline drafter spend none.
    tokens = reservation(request) if remote and gate.hit is None else 0
    gate.admission = limits.admit(rt, principal, tokens=tokens, surface=surface)
    return gate


def account(rt: Runtime, gate: Gate | None, *, raw: str, status: str, provider: str,
            model: str, usage: Usage, cost: Decimal) -> tuple[Usage, Decimal, Decimal]:
    """After a finished draft: (usage, cost, saved) to record; caches and settles as needed."""
    if gate is None:
        return usage, cost, Decimal(0)
    if gate.hit is not None:
        # Nothing was spent: the record shows zero usage and what the call would have cost.
        settle(gate, 0)
        return Usage(), _NOTHING, cost
    if status == "completed" and gate.cache_key is not None and raw:
        draft_cache.cache(rt).put(gate.cache_key, draft_cache.CachedDraft(
            text=raw, provider=provider, model=model, prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens), rt.settings.draft_cache_ttl_s)
    settle(gate, usage.total_tokens if status == "completed" else 0)
    return usage, cost, Decimal(0)


def settle(gate: Gate | None, used_tokens: int) -> None:
    """Settle the budget reservation to `used_tokens` (0 releases it); no-op when done."""
    if gate is not None:
        limits.settle(gate.admission, used_tokens)


def saturated(exc: AllProvidersFailed) -> ProvidersSaturated | None:
    """A 503 when the chain failed because providers were full (not broken), else None: an
    outage is what the offline drafter is for; overload is answered with 'come back later'."""
    waits = [e.retry_after for e in exc.errors if isinstance(e, ProviderSaturated)]
    if not waits:
        return None
    known = [w for w in waits if w is not None]
    return ProvidersSaturated(max(1, min(60, round(min(known)))) if known else 2)


def install(rt: Runtime) -> None:
    """Wire the queue-depth gauge and the erasure hooks (a person's cached drafts and limit
    counters go with them)."""
    for provider in rt.providers:
        if isinstance(provider, ShapedProvider):  # queued calls show on /metrics
            provider.shaper.on_queue_depth = (
                lambda name, depth: metrics.set_queue_depth(rt, name, depth))
    hooks = rt.caches.setdefault("erasure_hooks", [])
    hooks.append(lambda tenant_id, user_id: draft_cache.forget_user(rt, tenant_id, user_id))  # type: ignore[union-attr]
    hooks.append(lambda tenant_id, user_id: limits.forget_user(rt, tenant_id, user_id))  # type: ignore[union-attr]
