"""Limits and budgets on the drafting path (admit → reserve → settle), and their management.

Before a provider is called, `admit` counts the request against every rate that applies and
reserves an estimate of its tokens (prompt estimate + max output tokens) against every budget,
all at once and atomically (services/limit_stores.py). After the call, `settle` corrects the
reservation to the tokens actually used (a refund, usually); a failed, refused or abandoned
call releases it whole. So spend can pass a budget only by the estimation error of calls in
flight, and a refused request costs nothing.

A refusal is a 429 naming the limit, with Retry-After; it is audited ("limit.refused",
result "denied") and counted in `limit_refusals` for analytics.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from backend.errors import InvalidField, RateLimited
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.governance.limits import (
    LIMITS,
    Counter,
    LimitError,
    LimitRule,
    LimitSet,
    plan,
    refusal_code,
    refusal_message,
    retry_after_s,
    window,
)
from backend.services import audit
from backend.services.accounts import ensure_tenant
from backend.services.limit_stores import DatabaseLimitStore, LimitStore, RedisLimitStore
from backend.services.runtime import Runtime
from backend.storage.models import LimitRefusal, User, new_id, utcnow
from backend.storage.models import LimitRule as LimitRuleRow

log = logging.getLogger(__name__)

# Rules are on every draft's path: cached per process, so a change applies everywhere within
# this many seconds (the admin's own process at once).
_RULES_TTL_S = 10.0
_TEAM_TTL_S = 15.0
_lock = threading.Lock()
_INSERT_REFUSAL = LimitRefusal.__table__.insert()


@dataclass
class Admission:
    """Tokens reserved for one draft on its budget counters, until settled."""

    store: LimitStore
    tenant_id: str
    budgets: tuple[Counter, ...]
    reserved: int
    settled: bool = False


def store(rt: Runtime) -> LimitStore:
    """The configured limit store: Redis when REPLYWISE_REDIS_URL is set, else the database."""
    current = rt.caches.get("limit_store")
    if current is None:
        with _lock:
            current = rt.caches.get("limit_store")
            if current is None:
                redis = rt.caches.get("redis")
                current = (RedisLimitStore(redis, rt.settings.redis_prefix) if redis is not None
                           else DatabaseLimitStore(rt.db))
                rt.caches["limit_store"] = current
    return current  # type: ignore[return-value]


def limits_for(rt: Runtime, tenant_id: str) -> LimitSet:
    """The tenant's rules (cached for a few seconds)."""
    cache: dict[str, tuple[float, LimitSet]] = rt.caches.setdefault("limit_rules", {})  # type: ignore[assignment]
    hit = cache.get(tenant_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    with rt.db.session(tenant_id) as session:
        rows = session.scalars(select(LimitRuleRow)).all()
        limits = LimitSet(tuple(sorted((LimitRule(r.name, r.value, r.subject) for r in rows
                                        if r.name in LIMITS), key=lambda r: (r.name, r.subject))))
    with _lock:
        cache[tenant_id] = (time.monotonic() + _RULES_TTL_S, limits)
    return limits


def monthly_token_budget(rt: Runtime, principal: Principal, now=None
                         ) -> tuple[int | None, int | None]:
    """The user's own monthly token budget and what is left of it; (None, None) without one."""
    now = now or utcnow()
    counters = [c for c in plan(limits_for(rt, principal.tenant_id), tenant_id=principal.tenant_id,
                                user_id=principal.user_id or "", team=None, now=now, tokens=1)
                if c.limit == "user_monthly_tokens"]
    if not counters:
        return None, None
    (counter,) = counters
    used = store(rt).usage(principal.tenant_id, counters).get(counter.key, 0)
    return counter.cap, max(0, counter.cap - used)


def _team_of(rt: Runtime, principal: Principal) -> str | None:
    cache: dict[tuple[str, str], tuple[float, str | None]] = rt.caches.setdefault(
        "limit_teams", {})  # type: ignore[assignment]
    key = (principal.tenant_id, principal.user_id or "")
    hit = cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    with rt.db.session(principal.tenant_id) as session:
        team = session.scalar(select(User.team).where(User.id == principal.user_id))
    with _lock:
        if len(cache) > 100_000:
            cache.clear()
        cache[key] = (time.monotonic() + _TEAM_TTL_S, team)
    return team


def admit(rt: Runtime, principal: Principal, *, tokens: int, surface: str) -> Admission | None:
    """Count this request and reserve `tokens`, or raise RateLimited naming the limit.

    Returns the budget reservation to settle later (None when no budget applies).
    """
    limits = limits_for(rt, principal.tenant_id)
    if limits.empty:
        return None
    now = utcnow()
    team = _team_of(rt, principal) if limits.has_team_rules else None
    counters = plan(limits, tenant_id=principal.tenant_id, user_id=principal.user_id or "",
                    team=team, now=now, tokens=tokens)
    if not counters:
        return None
    limit_store = store(rt)
    refused = limit_store.admit(principal.tenant_id, counters)
    if refused is not None:
        _refuse(rt, principal, refused, surface, now)
    budgets = tuple(c for c in counters if c.kind == "budget")
    return Admission(limit_store, principal.tenant_id, budgets, tokens) if budgets else None


def settle(admission: Admission | None, used_tokens: int) -> None:
    """Correct the reservation to the tokens actually used (0 releases it). Idempotent."""
    if admission is None or admission.settled:
        return
    admission.settled = True
    try:
        admission.store.adjust(admission.tenant_id, admission.budgets,
                               used_tokens - admission.reserved)
    except Exception:  # noqa: BLE001 - accounting must not break the answer already made
        # The reservation stays counted: the budget errs on the side of spending less.
        log.exception("could not settle a budget reservation")


def _refuse(rt: Runtime, principal: Principal, counter: Counter, surface: str, now) -> None:
    retry = retry_after_s(counter.resets_at, now)
    with rt.db.session(principal.tenant_id) as session:
        session.connection().execute(_INSERT_REFUSAL, dict(
            id=new_id(), tenant_id=principal.tenant_id, user_id=principal.user_id,
            name=counter.limit, surface=surface[:16], retry_after_s=retry, created_at=now))
        audit.record(rt, session, principal, "limit.refused", result="denied",
                     details={"limit": counter.limit, "cap": counter.cap,
                              "retry_after_s": retry, "surface": surface})
    raise RateLimited(refusal_message(counter, retry), retry_after=retry, limit=counter.limit,
                      code=refusal_code(counter))


def read_limits(rt: Runtime, actor: Principal) -> dict[str, Any]:
    """The tenant's rules and its tenant-wide usage in the current windows (tenant_admin)."""
    rbac.require(actor, "limits.manage")
    rt.caches.get("limit_rules", {}).pop(actor.tenant_id, None)  # type: ignore[union-attr]
    limits = limits_for(rt, actor.tenant_id)
    now = utcnow()
    tenant_counters = []
    for name, (scope, _, window_kind) in LIMITS.items():
        if scope == "tenant" and limits.value_for(name, "") is not None:
            w = window(window_kind, now)
            tenant_counters.append(Counter(actor.tenant_id, name, "", w.id, 0,
                                           limits.value_for(name, "") or 0, w.resets_at))
    used = store(rt).usage(actor.tenant_id, tenant_counters)
    return {"limits": limits.to_document(),
            "usage": {c.limit: {"used": used.get(c.key, 0), "cap": c.cap,
                                "resets_in_s": retry_after_s(c.resets_at, now)}
                      for c in tenant_counters}}


def write_limits(rt: Runtime, actor: Principal, document: Any) -> dict[str, Any]:
    """Replace the tenant's rules after validating them (tenant_admin); audited."""
    rbac.require(actor, "limits.manage")
    try:
        limits = LimitSet.from_document(document)
    except LimitError as exc:
        raise InvalidField(exc.field, str(exc)) from None
    with rt.db.session(actor.tenant_id) as session:
        ensure_tenant(session, actor.tenant_id)
        session.execute(delete(LimitRuleRow))
        for rule in limits.rules:
            session.add(LimitRuleRow(name=rule.name, subject=rule.subject, value=rule.value,
                                     updated_by=actor.user_id or actor.subject[:64]))
        session.flush()
        audit.record(rt, session, actor, "limits.update", target=("tenant", actor.tenant_id),
                     details={"rules": len(limits.rules),
                              "limits": sorted({r.name for r in limits.rules})})
    rt.caches.get("limit_rules", {}).pop(actor.tenant_id, None)  # type: ignore[union-attr]
    return read_limits(rt, actor)


def set_limit(rt: Runtime, actor: Principal, name: str, value: int | None, *,
              user_id: str | None = None, team: str | None = None) -> dict[str, Any]:
    """Set (or with None, remove) one rule, keeping the others (the CLI's `limits set`)."""
    rbac.require(actor, "limits.manage")
    subject = user_id or team or ""
    rt.caches.get("limit_rules", {}).pop(actor.tenant_id, None)  # type: ignore[union-attr]
    rules = [r.as_dict() for r in limits_for(rt, actor.tenant_id).rules
             if not (r.name == name and r.subject == subject)]
    if value is not None:
        rule: dict[str, Any] = {"limit": name, "value": value}
        if user_id:
            rule["user_id"] = user_id
        if team:
            rule["team"] = team
        rules.append(rule)
    return write_limits(rt, actor, rules)


def forget_user(rt: Runtime, tenant_id: str, user_id: str) -> None:
    """Erasure hook: drop the person's counters and cached team."""
    store(rt).forget_user(tenant_id, user_id)
    rt.caches.get("limit_teams", {}).pop((tenant_id, user_id), None)  # type: ignore[union-attr]
