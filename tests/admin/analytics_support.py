"""A small usage history whose right answers were worked out by hand (see EXPECTED).

Two days, four users in two teams plus one without, seven drafts over every surface and
outcome, feedback, two refusals. Drafts and feedback carry text, so content-free tests can
check that none of it ever shows up.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import insert

from backend.storage.models import Draft, Feedback, LimitRefusal, Tenant, User

TENANT = "acme"
D1, D2 = date(2025, 3, 3), date(2025, 3, 4)
RANGE = {"from": D1.isoformat(), "to": D2.isoformat()}
SECRET_TEXTS = ("Dear Mr Zebulon, the merger closes Friday", "IBAN DE89 3704 0044 0532 0130 00",
                "final text nobody may see: purple-otter-42")
VIEWER = {"X-Replywise-Tenant": TENANT, "X-Replywise-User": "analyst-1"}


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


USERS = [("u1", "Sales"), ("u2", "Sales"), ("u3", "Support"), ("u4", None)]

# id, user, day, hour, surface, provider, model, status, latency, ttft, prompt, completion,
# cost, text_length, failovers, offline_fallback, pii
DRAFTS = [
    ("d1", "u1", D1, 10, "outlook", "azure-eu", "gpt-4o-mini", "completed", 1000, 200, 100, 50,
     "0.010", 300, 0, False, {"EMAIL": 2}),
    ("d2", "u1", D1, 11, "outlook", "azure-eu", "gpt-4o-mini", "completed", 2000, 400, 200, 100,
     "0.020", 500, 0, False, {"EMAIL": 1, "PHONE": 1}),
    ("d3", "u2", D1, 12, "gmail", "openai", "gpt-4o", "completed", 3000, 600, 300, 150,
     "0.030", 700, 1, False, {}),
    ("d4", "u3", D2, 9, "gmail", "offline", "offline", "offline", 40, 40, 0, 80,
     "0", 320, 1, True, {"PERSON": 3}),
    ("d5", "u3", D2, 10, "api", "azure-eu", "gpt-4o-mini", "cancelled", 500, None, 100, 0,
     "0.001", 0, 0, False, {}),
    ("d6", "u4", D2, 11, "cli", "azure-eu", "gpt-4o-mini", "failed", 4000, None, 100, 0,
     "0.001", 0, 0, False, {}),
    ("d7", "u2", D2, 15, "outlook", "azure-eu", "gpt-4o-mini", "completed", 5000, 1000, 400,
     200, "0.040", 900, 0, False, {}),
]
# draft, action, rating, edit_ratio
FEEDBACK = [("d1", "inserted", 1, "0.1"), ("d2", "discarded", None, None), ("d2", None, -1, None),
            ("d3", "inserted", 1, "0.3"), ("d4", "inserted", None, None), ("d7", None, 1, None)]
# user, day, limit, surface
REFUSALS = [("u1", D1, "user_rpm", "outlook"), ("u3", D2, "team_monthly_tokens", "gmail")]

EXPECTED = {
    "drafts": 7, "active_users": 4, "inserted": 3, "insert_rate": 0.4286,
    "rated_up": 3, "rated_down": 1, "positive": 0.75, "edit_ratio": 0.2,
    # answered latencies 40, 1000, 2000, 3000, 5000 -> buckets [40,60) [1000,1100) [2000,2100)
    # [3000,3100) [5000,5500); p50 rank 2.5 -> 2000 + 100 * 0.5; p95 rank 4.75 -> 5000 + 500 * .75
    "latency_p50": 2050, "latency_p95": 5375,
    # first tokens 40, 200, 400, 600, 1000: p50 rank 2.5 -> 400 + 20 * 0.5
    "ttft_p50": 410,
    "tokens": 1780, "cost_usd": 0.102, "failed": 1, "failover_drafts": 2,
    "offline_fallbacks": 1, "refusals": 2, "pii": 7,
}


# The latency panel per team filter (issue 6), worked out like EXPECTED.
# Sales (u1, u2): latencies 1000, 2000, 3000, 5000: p50 rank 2 -> 2000 + 100 * 1, p95 rank 3.8
# -> 5000 + 500 * 0.8; first tokens 200, 400, 600, 1000: 400 + 20 * 1 and 1000 + 100 * 0.8.
# Support (u3): only the offline draft's 40 ms counts (d5 was cancelled): [40, 60) gives
# 40 + 20 * 0.5 and 40 + 20 * 0.95 for both. (none) (u4): one failed draft, so no latency.
# All teams: first tokens 40, 200, 400, 600, 1000: p95 rank 4.75 -> 1000 + 100 * 0.75.
LATENCY_BY_TEAM = {
    None: {"latency_p50": 2050, "latency_p95": 5375, "ttft_p50": 410, "ttft_p95": 1075},
    "Sales": {"latency_p50": 2100, "latency_p95": 5400, "ttft_p50": 420, "ttft_p95": 1080},
    "Support": {"latency_p50": 50, "latency_p95": 59, "ttft_p50": 50, "ttft_p95": 59},
    "(none)": {"latency_p50": None, "latency_p95": None, "ttft_p50": None, "ttft_p95": None},
}


def seed(rt) -> None:
    """Write the history straight into the tables (as years of real use would have)."""
    ids = {}
    with rt.db.session(TENANT) as session:
        conn = session.connection()
        conn.execute(insert(Tenant.__table__), [dict(id=TENANT, name="Acme", policy={},
                                                     created_at=at(D1, 0))])
        for subject, team in USERS:
            ids[subject] = f"user-{subject}"
            conn.execute(insert(User.__table__), [dict(
                id=ids[subject], tenant_id=TENANT, idp="local", subject=subject,
                email=f"{subject}@acme.example", display_name=f"Person {subject}", team=team,
                created_at=at(D1, 0), last_seen_at=None)])
        rows = []
        for (did, user, day, hour, surface, provider, model, status, latency, ttft, prompt,
             completion, cost, length, failovers, fallback, pii) in DRAFTS:
            rows.append(dict(
                id=did, tenant_id=TENANT, user_id=ids[user], surface=surface, status=status,
                provider=provider, model=model, tone="neutral", length="medium", language="en",
                refine=None, prompt_tokens=prompt, completion_tokens=completion,
                cost_usd=Decimal(cost), latency_ms=latency, ttft_ms=ttft,
                attempts=2 if failovers else 1, failovers=failovers, offline_fallback=fallback,
                text_length=length, pii_counts=pii, text=SECRET_TEXTS[len(rows) % 2],
                created_at=at(day, hour)))
        conn.execute(insert(Draft.__table__), rows)
        draft_rows = {r["id"]: r for r in rows}
        conn.execute(insert(Feedback.__table__), [dict(
            id=f"f{i}", tenant_id=TENANT, draft_id=did, user_id=draft_rows[did]["user_id"],
            action=action, rating=rating, edit_ratio=None if edit is None else Decimal(edit),
            final_text=SECRET_TEXTS[2], created_at=draft_rows[did]["created_at"])
            for i, (did, action, rating, edit) in enumerate(FEEDBACK)])
        conn.execute(insert(LimitRefusal.__table__), [dict(
            id=f"r{i}", tenant_id=TENANT, user_id=ids[user], name=limit, surface=surface,
            retry_after_s=30, created_at=at(day, 13)) for i, (user, day, limit, surface)
            in enumerate(REFUSALS)])
