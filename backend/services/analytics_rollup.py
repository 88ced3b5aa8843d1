"""Keeping the analytics rollup current: recompute each UTC day whose drafts or feedback changed.

Incremental and idempotent. A per-tenant watermark (analytics_state) says until when the rollup
is complete; a refresh looks for drafts and feedback written since then (minus a margin for
transactions that committed after a later one started), deletes those days' rollup rows and
recomputes them from the raw tables with GROUP BY in the database. The first refresh of a
tenant builds every day; after that a refresh touches today (and the days of drafts that just
got feedback), which is milliseconds.

Writers of one tenant are serialised on the state row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite's single writer already does it), so two workers never rebuild the same day twice.

Nothing here reads message text: only counters, timings, sizes and the PII type counts.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (Date, Integer, String, and_, case, cast, delete, distinct, func, insert,
                        literal, or_, select)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backend.analytics.histogram import BANDS, OVERFLOW_BUCKET
from backend.services.runtime import Runtime
from backend.storage.models import (DailyUsage, Draft, Feedback, LatencyBucket, PiiDaily,
                                    RollupState, TeamLatencyBucket, Tenant, User, UserMonth,
                                    utcnow)

# A draft's created_at is stamped before its transaction commits, so a refresh can miss a row
# that commits a moment later with an earlier timestamp. Rescanning this far back closes that.
MARGIN = timedelta(minutes=5)
# The page and /metrics ask for a refresh on every view; within this many seconds of the last
# one (per tenant, per process) the rollup is taken as fresh enough.
REFRESH_EVERY_S = 15.0
# Days recomputed per transaction during a first (or catch-up) build.
CHUNK_DAYS = 31

# Columns the limits/cache work adds to drafts; counted once they exist on the model.
_CACHED = Draft.__table__.c.get("cached")
_SAVED = Draft.__table__.c.get("saved_usd")

_lock = threading.Lock()


def day_of(column, dialect: str):
    """SQL for the UTC calendar day of a timestamp column."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    # SQLite stores UTC timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff'.
    return func.substr(column, 1, 10)


def sql_bucket(column):
    """SQL for backend.analytics.histogram.bucket_of(column), integer arithmetic on both DBs."""
    whens, offset = [], 0
    for start, end, width in BANDS:
        whens.append((column < end, literal(offset) + (column - start) // width))
        offset += (end - start) // width
    return case(*whens, else_=literal(OVERFLOW_BUCKET))


def as_date(value: Any) -> date:
    """A day read back from either database (date on PostgreSQL, text on SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def day_start(day: date) -> datetime:
    return datetime.combine(day, dtime.min, tzinfo=timezone.utc)


def refresh(rt: Runtime, tenant_id: str, *, force: bool = False) -> int:
    """Bring one tenant's rollup up to date; return how many days were recomputed."""
    stamps: dict[str, float] = rt.caches.setdefault(  # type: ignore[assignment]
        "analytics_refreshed", {})
    now_mono = time.monotonic()
    with _lock:
        if not force and now_mono - stamps.get(tenant_id, -1e9) < REFRESH_EVERY_S:
            return 0
        stamps[tenant_id] = now_mono
    try:
        with rt.db.session(tenant_id) as session:
            since = _lock_state(session, tenant_id)
            started = utcnow()
            days = _dirty_days(session, tenant_id, since)
            chunks = [days[i:i + CHUNK_DAYS] for i in range(0, len(days), CHUNK_DAYS)] or [[]]
            recompute(session, tenant_id, chunks[0])
            if len(chunks) == 1:
                _move_watermark(session, tenant_id, started)
        # A first build of a big tenant commits a month at a time, so no transaction (and, on
        # SQLite, no writer lock) is held for minutes. Each chunk takes the state lock again.
        for i, chunk in enumerate(chunks[1:], start=2):
            with rt.db.session(tenant_id) as session:
                _lock_state(session, tenant_id)
                recompute(session, tenant_id, chunk)
                if i == len(chunks):
                    _move_watermark(session, tenant_id, started)
        return len(days)
    except Exception:
        stamps.pop(tenant_id, None)  # not refreshed, so not remembered either
        raise


def _move_watermark(session: Session, tenant_id: str, until: datetime) -> None:
    session.connection().execute(RollupState.__table__.update()
                                 .where(RollupState.tenant_id == tenant_id)
                                 .values(refreshed_until=until))


def refresh_all(rt: Runtime, *, force: bool = False) -> int:
    """Refresh every tenant (for /metrics, which reports across tenants)."""
    with rt.db.session(all_tenants=True) as session:
        tenants = list(session.scalars(select(Tenant.id)))
    return sum(refresh(rt, tenant_id, force=force) for tenant_id in tenants)


def _lock_state(session: Session, tenant_id: str) -> datetime | None:
    table = RollupState.__table__
    query = select(table.c.refreshed_until).where(table.c.tenant_id == tenant_id)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(table).values(tenant_id=tenant_id, refreshed_until=None)
                        .on_conflict_do_nothing())
        return session.execute(query.with_for_update()).scalar_one()
    row = session.execute(query).first()
    if row is None:
        session.execute(insert(table).values(tenant_id=tenant_id, refreshed_until=None))
        return None
    return row[0]


def _dirty_days(session: Session, tenant_id: str, since: datetime | None) -> list[date]:
    dialect = session.get_bind().dialect.name
    draft_day = day_of(Draft.created_at, dialect)
    if since is None:
        query = select(draft_day).where(Draft.tenant_id == tenant_id).distinct()
        return sorted(as_date(d) for d in session.scalars(query))
    after = since - MARGIN
    days = {as_date(d) for d in session.scalars(
        select(draft_day).where(Draft.tenant_id == tenant_id, Draft.created_at >= after)
        .distinct())}
    days |= {as_date(d) for d in session.scalars(
        select(draft_day).join(Feedback, Feedback.draft_id == Draft.id)
        .where(Feedback.tenant_id == tenant_id, Feedback.created_at >= after).distinct())}
    return sorted(days)


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous [first, last] runs of sorted days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def recompute(session: Session, tenant_id: str, days: list[date]) -> None:
    """Replace the rollup rows of these days with fresh aggregates of the raw tables."""
    for first, last in _ranges(days):
        # A year is rebuilt a month at a time, so no single statement holds everything.
        start = first
        while start <= last:
            end = min(last, start + timedelta(days=30))
            _recompute_range(session, tenant_id, start, end)
            start = end + timedelta(days=1)


def _recompute_range(session: Session, tenant_id: str, first: date, last: date) -> None:
    dialect = session.get_bind().dialect.name
    lo, hi = day_start(first), day_start(last + timedelta(days=1))
    for model in (DailyUsage, TeamLatencyBucket, LatencyBucket, PiiDaily):
        table = model.__table__
        session.connection().execute(delete(table).where(
            table.c.tenant_id == tenant_id, table.c.day >= first, table.c.day <= last))
    day = day_of(Draft.created_at, dialect)
    team = func.coalesce(User.team, "")
    dims = (day, Draft.surface, team, Draft.provider)
    in_range = and_(Draft.tenant_id == tenant_id, Draft.created_at >= lo, Draft.created_at < hi)

    def joined(*columns):
        return select(*columns).select_from(Draft).join(User, User.id == Draft.user_id) \
            .where(in_range)

    rows = _daily_rows(session, tenant_id, joined, in_range, dims, lo)
    write = session.connection()  # Core DML: explicit tenant ids, no ORM unit of work
    if rows:
        write.execute(insert(DailyUsage.__table__), rows)
    _insert_latency(write, tenant_id, joined, dims, first, last)
    _upsert_user_months(write, dialect, tenant_id, in_range, team)
    _insert_pii(session, tenant_id, joined, dims)


def _insert_latency(write, tenant_id: str, joined, dims, first: date, last: date) -> None:
    """Histograms per (day, surface, team, provider) from the drafts, then their sum over teams.

    The sum is taken from the team rows just written, not from the drafts again: half the work,
    and the two tables cannot disagree about a day.
    """
    answered = Draft.status.notin_(("cancelled", "failed"))
    for kind, column, extra in (("latency", Draft.latency_ms, answered),
                                ("ttft", Draft.ttft_ms, and_(answered,
                                                             Draft.ttft_ms.is_not(None)))):
        bucket = sql_bucket(column)
        source = joined(literal(tenant_id), *dims, literal(kind), bucket, func.count()) \
            .where(extra).group_by(*dims, bucket)
        write.execute(insert(TeamLatencyBucket.__table__).from_select(
            ["tenant_id", "day", "surface", "team", "provider", "kind", "bucket", "count"],
            source))
    teams = TeamLatencyBucket.__table__
    keys = (teams.c.day, teams.c.surface, teams.c.provider, teams.c.kind, teams.c.bucket)
    summed = select(literal(tenant_id), *keys, func.sum(teams.c.count)) \
        .where(teams.c.tenant_id == tenant_id, teams.c.day >= first, teams.c.day <= last) \
        .group_by(*keys)
    write.execute(insert(LatencyBucket.__table__).from_select(
        ["tenant_id", "day", "surface", "provider", "kind", "bucket", "count"], summed))


def _upsert_user_months(write, dialect: str, tenant_id: str, in_range, team) -> None:
    """OR the range's active days into each user's monthly bitmasks (idempotent)."""
    if dialect == "postgresql":
        local = func.timezone("UTC", Draft.created_at)
        month = cast(func.date_trunc("month", local), Date)
        dom = cast(func.extract("day", local), Integer)
        upsert = pg_insert
    else:
        month = func.substr(Draft.created_at, 1, 8) + "01"
        dom = cast(func.substr(Draft.created_at, 9, 2), Integer)
        upsert = sqlite_insert
    bit = literal(1, Integer).op("<<")(dom - 1)

    def days(surfaces: tuple[str, ...]):
        # Distinct powers of two add up to their OR (SQLite has no bit_or aggregate).
        return func.sum(distinct(case((Draft.surface.in_(surfaces), bit), else_=0)))

    keys = (month, Draft.user_id, team, Draft.provider)
    source = select(literal(tenant_id), *keys, days(("outlook",)), days(("gmail",)),
                    days(("api", "cli"))).select_from(Draft) \
        .join(User, User.id == Draft.user_id).where(in_range).group_by(*keys)
    table = UserMonth.__table__
    masks = ("days_outlook", "days_gmail", "days_api")
    statement = upsert(table).from_select(
        ["tenant_id", "month", "user_id", "team", "provider", *masks], source)
    merged = {m: table.c[m].op("|")(statement.excluded[m]) for m in masks}
    write.execute(statement.on_conflict_do_update(
        index_elements=["tenant_id", "month", "user_id", "team", "provider"], set_=merged,
        # Most rows already hold today's bit after the first refresh of the day: leave them.
        where=or_(*(merged[m] != table.c[m] for m in masks))))


def _sum_if(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _daily_rows(session: Session, tenant_id: str, joined, in_range, dims,
                lo: datetime) -> list[dict]:
    """Drafts and their feedback, aggregated per (day, surface, team, provider, model)."""
    keys = (*dims, Draft.model)
    answered = Draft.status.notin_(("cancelled", "failed"))
    draft_rows = session.execute(joined(
        *keys, func.count(), _sum_if(Draft.status == "completed"),
        _sum_if(Draft.status == "offline"), _sum_if(Draft.status == "cancelled"),
        _sum_if(Draft.status == "failed"), _sum_if(and_(answered, Draft.text_length == 0)),
        _sum_if(Draft.attempts > 1), _sum_if(Draft.failovers > 0),
        func.coalesce(func.sum(Draft.failovers), 0), _sum_if(Draft.offline_fallback.is_(True)),
        func.coalesce(func.sum(Draft.prompt_tokens), 0),
        func.coalesce(func.sum(Draft.completion_tokens), 0),
        func.coalesce(func.sum(Draft.cost_usd), 0),
        func.coalesce(func.sum(case((answered, Draft.text_length), else_=0)), 0),
        func.coalesce(func.sum(case((answered, Draft.latency_ms), else_=0)), 0),
        func.count(Draft.ttft_ms), func.coalesce(func.sum(Draft.ttft_ms), 0),
        _sum_if(_CACHED.is_(True)) if _CACHED is not None else literal(0),
        func.coalesce(func.sum(_SAVED), 0) if _SAVED is not None else literal(0),
    ).group_by(*keys)).all()
    feedback_rows = session.execute(
        select(*keys,
               func.count(distinct(case((Feedback.action == "inserted", Draft.id)))),
               func.count(distinct(case((Feedback.action == "discarded", Draft.id)))),
               _sum_if(Feedback.rating == 1), _sum_if(Feedback.rating == -1),
               func.count(Feedback.edit_ratio), func.coalesce(func.sum(Feedback.edit_ratio), 0))
        .select_from(Feedback).join(Draft, Draft.id == Feedback.draft_id)
        .join(User, User.id == Draft.user_id)
        # Feedback comes after its draft, so its own (tenant, created_at) index bounds the scan.
        .where(in_range, Feedback.tenant_id == tenant_id, Feedback.created_at >= lo)
        .group_by(*keys)).all()
    feedback = {tuple(r[:5]): r[5:] for r in feedback_rows}
    values = []
    for r in draft_rows:
        key = tuple(r[:5])
        ins, disc, up, down, edits, edit_sum = feedback.get(key, (0, 0, 0, 0, 0, 0))
        (drafts, completed, offline, cancelled, failed, empty, retried, failover_drafts,
         failovers, fallbacks, prompt, completion, cost, length, latency, ttft_n, ttft_sum,
         cached, saved) = r[5:]
        values.append(dict(
            tenant_id=tenant_id, day=as_date(key[0]), surface=key[1], team=key[2],
            provider=key[3], model=key[4], drafts=drafts, completed=completed, offline=offline,
            cancelled=cancelled, failed=failed, empty=empty, retried=retried,
            failover_drafts=failover_drafts, failovers=failovers, offline_fallbacks=fallbacks,
            prompt_tokens=prompt, completion_tokens=completion, cost_usd=Decimal(str(cost)),
            text_length_sum=length, latency_sum_ms=latency, ttft_count=ttft_n,
            ttft_sum_ms=ttft_sum, cached=cached or 0, saved_usd=Decimal(str(saved or 0)),
            inserted=ins, discarded=disc, rated_up=up or 0, rated_down=down or 0,
            edit_count=edits, edit_ratio_sum=float(edit_sum or 0)))
    return values


def _insert_pii(session: Session, tenant_id: str, joined, dims) -> None:
    totals: dict[tuple, int] = defaultdict(int)
    rows = session.execute(joined(*dims, Draft.pii_counts)
                           .where(cast(Draft.pii_counts, String).notin_(("{}", "null"))))
    for *key, counts in rows:
        for pii_type, count in (counts or {}).items():
            if isinstance(count, int) and count > 0:
                totals[(as_date(key[0]), key[1], key[2], key[3], str(pii_type)[:32])] += count
    if totals:
        session.connection().execute(insert(PiiDaily.__table__), [
            dict(tenant_id=tenant_id, day=k[0], surface=k[1], team=k[2], provider=k[3],
                 pii_type=k[4], count=n) for k, n in totals.items()])
