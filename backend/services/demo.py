"""Realistic usage for a demo instance: users in teams, months of drafts with weekday rhythms,
feedback, failovers, offline fallbacks, cancellations, refusals and PII counts.

Deterministic for a seed, and fast: rows are generated in Python and written with Core bulk
inserts in batches, then the analytics rollup is rebuilt once. Seeded drafts and refusals get
no audit events (an audit trail records what happened; this did not), so every tenant's hash
chain stays valid. Seeded drafts carry no text.

The last week deliberately differs (a slower model rolled out to part of the traffic, a dip in
insert rate), so the drift panel has something to show.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import delete, func, insert, select

from backend.services import analytics_rollup
from backend.services.accounts import ensure_tenant
from backend.services.runtime import Runtime
from backend.storage.models import Draft, Feedback, LimitRefusal, User, new_id, utcnow

DEMO_PREFIX = "demo-"
# (team, share of users, insert rate, reply length). Longer replies take longer to generate,
# so teams differ in latency as they do in real tenants, and the team filter shows it.
TEAMS = (("Support", 0.30, 0.68, 1.0), ("Sales", 0.24, 0.62, 0.9),
         ("Engineering", 0.14, 0.48, 1.15), ("Operations", 0.12, 0.58, 0.9),
         ("Finance", 0.11, 0.55, 1.2), ("Legal", 0.09, 0.41, 1.6))
SURFACE_MIX = (("outlook", 0.62), ("gmail", 0.30), ("api", 0.06), ("cli", 0.02))
WEEKDAY = (1.08, 1.15, 1.12, 1.05, 0.86, 0.10, 0.06)
PII_TYPES = (("EMAIL", 0.30), ("PERSON", 0.35), ("PHONE", 0.18), ("ADDRESS", 0.06),
             ("IBAN", 0.03), ("CREDIT_CARD", 0.01))
FIRST = ("Ava", "Ben", "Chloé", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jon",
         "Kemal", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara")
LAST = ("Andersen", "Baptiste", "Chen", "Duarte", "Eriksen", "Fischer", "García", "Haddad",
        "Ito", "Jensen", "Kowalski", "López", "Moreau", "Novak", "Okafor", "Patel")
BATCH = 5000


@dataclass(frozen=True)
class _Route:
    provider: str
    model: str
    latency_median_ms: float


PRIMARY = _Route("azure-eu", "gpt-4o-mini", 2300)
SECONDARY = _Route("openai", "gpt-4o-mini", 2600)
PREMIUM = _Route("openai", "gpt-4.1", 3900)
OFFLINE = _Route("offline", "offline", 40)


@dataclass
class SeedReport:
    tenant: str
    users: int
    drafts: int
    feedback: int
    refusals: int
    days: int


def seed(rt: Runtime, *, tenant: str, days: int, users: int, seed_value: int = 7,
         end: date | None = None, per_user_per_day: float = 2.2) -> SeedReport:
    """Replace the tenant's demo users (and their drafts) with freshly generated usage."""
    rng = random.Random(seed_value)
    end = end or utcnow().date()
    start = end - timedelta(days=days - 1)
    with rt.db.session(tenant) as session:
        ensure_tenant(session, tenant)
        session.execute(delete(User).where(User.subject.like(f"{DEMO_PREFIX}%")))
        people = _users(rng, tenant, users)
        session.connection().execute(insert(User.__table__), people)
    counts = {"drafts": 0, "feedback": 0, "refusals": 0}
    prices = rt.settings.prices
    for kind, rows in _rows(rng, tenant, people, start, end, prices, per_user_per_day):
        table = {"draft": Draft, "feedback": Feedback, "refusal": LimitRefusal}[kind].__table__
        with rt.db.session(tenant) as session:
            session.connection().execute(insert(table), rows)
        counts[{"draft": "drafts", "feedback": "feedback",
                "refusal": "refusals"}[kind]] += len(rows)
    _rebuild(rt, tenant)
    return SeedReport(tenant, len(people), counts["drafts"], counts["feedback"],
                      counts["refusals"], days)


def _rebuild(rt: Runtime, tenant: str) -> None:
    from backend.storage.models import (DailyUsage, LatencyBucket, PiiDaily, RollupState,
                                        TeamLatencyBucket, UserMonth)
    with rt.db.session(tenant) as session:
        for model in (DailyUsage, TeamLatencyBucket, LatencyBucket, PiiDaily, UserMonth,
                      RollupState):
            table = model.__table__
            session.connection().execute(table.delete().where(table.c.tenant_id == tenant))
    analytics_rollup.refresh(rt, tenant, force=True)


def _users(rng: random.Random, tenant: str, count: int) -> list[dict]:
    people = []
    now = utcnow()
    for i in range(count):
        team = _pick(rng, [(t, w) for t, w, _, _ in TEAMS])
        first, last = rng.choice(FIRST), rng.choice(LAST)
        people.append(dict(
            id=new_id(), tenant_id=tenant, idp="local", subject=f"{DEMO_PREFIX}{i + 1:05d}",
            email=f"{first.lower()}.{last.lower()}.{i + 1}@example.com".encode("ascii", "ignore")
            .decode(), display_name=f"{first} {last}", team=team, created_at=now,
            last_seen_at=None))
    return people


def _pick(rng: random.Random, weighted) -> str:
    roll, acc = rng.random() * sum(w for _, w in weighted), 0.0
    for value, weight in weighted:
        acc += weight
        if roll <= acc:
            return value
    return weighted[-1][0]


def _rows(rng: random.Random, tenant: str, people: list[dict], start: date, end: date,
          prices, per_user_per_day: float) -> Iterator[tuple[str, list[dict]]]:
    insert_rate = {t: r for t, _, r, _ in TEAMS}
    reply_length = {t: length for t, _, _, length in TEAMS}
    profile = []
    total_days = (end - start).days + 1
    for person in people:
        activity = rng.lognormvariate(0, 0.7) * per_user_per_day / math.exp(0.245)
        surfaces = [(s, w * rng.uniform(0.3, 1.7)) for s, w in SURFACE_MIX]
        adopted = int(total_days * min(rng.random() ** 2, 0.9))  # adoption grows over time
        profile.append((person, activity, surfaces, adopted))
    drafts: list[dict] = []
    feedback: list[dict] = []
    refusals: list[dict] = []
    for offset in range(total_days):
        day = start + timedelta(days=offset)
        recent = total_days - offset <= 7
        base = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        for person, activity, surfaces, adopted in profile:
            if offset < adopted:
                continue
            expected = activity * WEEKDAY[day.weekday()]
            n = _poisson(rng, expected)
            for _ in range(n):
                at = base + timedelta(seconds=int(rng.triangular(6.5, 19, 10.5) * 3600))
                draft, fb = _draft(rng, tenant, person, at, _pick(rng, surfaces), prices,
                                   insert_rate[person["team"]] - (0.12 if recent else 0.0),
                                   recent, reply_length[person["team"]])
                drafts.append(draft)
                feedback.extend(fb)
            if expected > 0 and rng.random() < 0.004 * expected:
                refusals.append(dict(
                    id=new_id(), tenant_id=tenant, user_id=person["id"],
                    name=_pick(rng, [("user_rpm", 0.55), ("user_daily_tokens", 0.25),
                                     ("team_monthly_tokens", 0.15), ("tenant_rpm", 0.05)]),
                    surface=_pick(rng, surfaces), retry_after_s=rng.randint(5, 3600),
                    created_at=base + timedelta(hours=rng.uniform(8, 18))))
            if len(drafts) >= BATCH:
                yield "draft", drafts
                drafts = []
                yield "feedback", feedback
                feedback = []
        if refusals:
            yield "refusal", refusals
            refusals = []
    if drafts:
        yield "draft", drafts
    if feedback:
        yield "feedback", feedback


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _draft(rng: random.Random, tenant: str, person: dict, at: datetime, surface: str, prices,
           insert_p: float, recent: bool, reply_length: float) -> tuple[dict, list[dict]]:
    route = PRIMARY if rng.random() < 0.78 else (PREMIUM if rng.random() < 0.45 else SECONDARY)
    if recent and rng.random() < 0.35:
        route = PREMIUM  # the week's rollout: slower, pricier, and the drift panel notices
    status, failovers, attempts, fallback = "completed", 0, 1, False
    roll = rng.random()
    if roll < 0.008:
        route, status, failovers, attempts, fallback = OFFLINE, "offline", 1, 3, True
    elif roll < 0.038:
        route, failovers, attempts = SECONDARY, 1, 2
    elif roll < 0.058:
        status = "cancelled"
    elif roll < 0.061:
        status = "failed"
    elif roll < 0.09:
        attempts = 2
    prompt = int(rng.lognormvariate(7.0, 0.45))
    completion = int(rng.lognormvariate(5.3, 0.4) * reply_length)
    latency = int(rng.lognormvariate(math.log(route.latency_median_ms * reply_length), 0.35))
    if failovers:
        latency += int(rng.uniform(800, 4000))
    ttft = int(latency * rng.uniform(0.12, 0.3)) if status != "failed" else None
    if status in ("cancelled", "failed"):
        completion = int(completion * rng.uniform(0, 0.5)) if status == "cancelled" else 0
    price_in, price_out = prices.get(route.model, (Decimal(0), Decimal(0)))
    cost = (price_in * prompt + price_out * completion) / 1000
    cached = status == "completed" and rng.random() < 0.07
    saved = cost if cached else Decimal(0)
    if cached:
        cost, prompt, completion, latency = Decimal(0), 0, 0, int(rng.uniform(20, 90))
        ttft = latency
    pii = {}
    for pii_type, p in PII_TYPES:
        if rng.random() < p:
            pii[pii_type] = 1 + int(rng.expovariate(1.2))
    length = int(completion * rng.uniform(3.8, 4.6)) if status not in ("failed",) else 0
    if status == "completed" and rng.random() < 0.004:
        length = 0  # an empty answer: counted by drift
    draft = dict(
        id=new_id(), tenant_id=tenant, user_id=person["id"], surface=surface, status=status,
        provider=route.provider, model=route.model,
        tone=_pick(rng, [("neutral", 0.5), ("friendly", 0.3), ("formal", 0.2)]),
        length=_pick(rng, [("short", 0.4), ("medium", 0.45), ("long", 0.15)]),
        language=_pick(rng, [("en", 0.7), ("de", 0.12), ("fr", 0.1), ("es", 0.08)]),
        refine=None, prompt_tokens=prompt, completion_tokens=completion,
        cost_usd=cost.quantize(Decimal("0.000001")), latency_ms=latency, ttft_ms=ttft,
        attempts=attempts, failovers=failovers, offline_fallback=fallback, text_length=length,
        pii_counts=pii, text=None, created_at=at, cached=cached,
        saved_usd=saved.quantize(Decimal("0.000001")))
    if "cached" not in Draft.__table__.c:
        draft.pop("cached")
        draft.pop("saved_usd")
    fb: list[dict] = []
    if status in ("completed", "offline"):
        later = at + timedelta(seconds=rng.randint(10, 600))
        if rng.random() < insert_p:
            edit = round(rng.betavariate(1.4, 7 if not recent else 4), 4) if rng.random() < 0.45 \
                else None
            fb.append(_feedback(draft, "inserted", None, edit, later))
        elif rng.random() < 0.35:
            fb.append(_feedback(draft, "discarded", None, None, later))
        if rng.random() < 0.22:
            good = rng.random() < (0.84 if not recent else 0.7)
            fb.append(_feedback(draft, None, 1 if good else -1, None,
                                later + timedelta(seconds=5)))
    return draft, fb


def _feedback(draft: dict, action: str | None, rating: int | None, edit: float | None,
              at: datetime) -> dict:
    return dict(id=new_id(), tenant_id=draft["tenant_id"], draft_id=draft["id"],
                user_id=draft["user_id"], action=action, rating=rating,
                edit_ratio=None if edit is None else Decimal(str(edit)), final_text=None,
                created_at=at)


def demo_user_count(rt: Runtime, tenant: str) -> int:
    """How many demo users the tenant has (0 before seeding)."""
    with rt.db.session(tenant) as session:
        return session.scalar(select(func.count()).select_from(User)
                              .where(User.subject.like(f"{DEMO_PREFIX}%"))) or 0
