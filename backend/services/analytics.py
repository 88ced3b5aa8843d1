"""The analytics page's use-cases: the overview for a date range and filters, and drift.

Everything is read from the rollup tables (services/analytics_rollup.py), refreshed first, and
from the limit_refusals records. Content-free by construction: no query here selects a
message, a draft's text or a user's name.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select

from backend.analytics import drift as drift_rules
from backend.analytics.histogram import percentile
from backend.analytics.tables import (PER_DAY, SUMMED, Column, Table, build_tables,
                                      surface_group)
from backend.errors import InvalidField
from backend.governance import rbac
from backend.governance.limits import LIMITS
from backend.governance.identity import Principal
from backend.services import analytics_rollup as rollup
from backend.services.runtime import Runtime
from backend.storage.models import (DailyUsage, LatencyBucket, LimitRefusal, PiiDaily,
                                    TeamLatencyBucket, User, UserMonth)

# Filter value -> surfaces stored on drafts. The API and the CLI are one "surface" on the page.
SURFACES: dict[str, tuple[str, ...]] = {"outlook": ("outlook",), "gmail": ("gmail",),
                                         "api": ("api", "cli")}
MAX_RANGE_DAYS = 731


@dataclass(frozen=True)
class Filters:
    """What the page shows: an inclusive UTC date range and optional surface/team/provider."""

    start: date
    end: date
    surface: str | None = None
    team: str | None = None
    provider: str | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str], today: date) -> "Filters":
        """From query parameters; defaults to the last 30 days. 400 naming a bad parameter."""
        end = _date_arg(args, "to", today)
        start = _date_arg(args, "from", end - timedelta(days=29))
        if start > end:
            raise InvalidField("from", "'from' must not be after 'to'.")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise InvalidField("from", f"The range may span at most {MAX_RANGE_DAYS} days.")
        surface = args.get("surface") or None
        if surface is not None and surface not in SURFACES:
            raise InvalidField("surface", f"'surface' must be one of {sorted(SURFACES)}.")
        team = args.get("team") or None
        provider = args.get("provider") or None
        for name, value in (("team", team), ("provider", provider)):
            if value is not None and len(value) > 100:
                raise InvalidField(name, f"'{name}' is too long.")
        return cls(start, end, surface, team, provider)

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links and CSV exports)."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for name in ("surface", "team", "provider"):
            value = getattr(self, name)
            if value:
                params[name] = value
        return params

    def latency_model(self) -> type[LatencyBucket] | type[TeamLatencyBucket]:
        """The latency histogram table that answers these filters with the fewest rows."""
        return LatencyBucket if self.team is None else TeamLatencyBucket

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def where(self, model, *, start: date | None = None, end: date | None = None) -> list:
        """SQL conditions for a rollup model (days, and the dimension filters)."""
        conditions = [model.day >= (start or self.start), model.day <= (end or self.end)]
        if self.surface:
            conditions.append(model.surface.in_(SURFACES[self.surface]))
        if self.team is not None:
            # Refuse rather than skip: a panel that quietly ignored the team filter was issue 6.
            if not hasattr(model, "team"):
                raise ValueError(f"{model.__name__} has no team; it cannot honour a team filter")
            conditions.append(model.team == ("" if self.team == "(none)" else self.team))
        if self.provider:
            conditions.append(model.provider == self.provider)
        return conditions


def _date_arg(args: Mapping[str, str], name: str, default: date) -> date:
    raw = args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidField(name, f"'{name}' must be a date like 2025-01-31.") from None


@dataclass
class Overview:
    """Everything the page shows; every table here is also a CSV export."""

    filters: Filters
    kpis: dict[str, Any]
    tables: dict[str, Table]
    options: dict[str, list[str]]
    drift: list[drift_rules.DriftResult] = field(default_factory=list)
    drift_windows: dict[str, str] = field(default_factory=dict)


def overview(rt: Runtime, principal: Principal, filters: Filters) -> Overview:
    """The usage overview for the caller's tenant (analyst, tenant_admin)."""
    rbac.require(principal, "analytics.read")
    tenant = principal.tenant_id
    rollup.refresh(rt, tenant)
    with rt.db.session(tenant) as session:
        groups = _grouped(session, filters)
        latency = filters.latency_model()
        hist = session.execute(
            select(latency.kind, latency.day, latency.bucket, func.sum(latency.count))
            .where(*filters.where(latency))
            .group_by(latency.kind, latency.day, latency.bucket)).all()
        pii = session.execute(
            select(PiiDaily.pii_type, func.sum(PiiDaily.count)).where(*filters.where(PiiDaily))
            .group_by(PiiDaily.pii_type)).all()
        active = _active_users(session, filters)
        refusals = _refusals(session, tenant, filters)
        options = {
            "teams": sorted({t or "(none)" for t in session.scalars(
                select(DailyUsage.team).distinct())}),
            "providers": sorted(session.scalars(select(DailyUsage.provider).distinct())),
        }
    tables, kpis = build_tables(filters.days(), groups, hist, pii, active, refusals)
    result = Overview(filters, kpis, tables, options)
    result.drift, result.drift_windows = drift(rt, principal, filters, refresh=False)
    tables["drift"] = _drift_table(result.drift)
    kpis["drift_flagged"] = sum(1 for d in result.drift if d.flagged)
    return result


def _grouped(session, filters: Filters) -> dict[str, list[dict[str, Any]]]:
    """The rollup summed by the database: per (day, surface), surface, provider+model, team."""
    d = DailyUsage
    where = filters.where(d)

    def summed(names):
        return [func.sum(getattr(d, n)).label(n) for n in names]

    def rows(keys, names):
        query = select(*keys, *summed(names)).where(*where).group_by(*keys)
        return [dict(r._mapping) for r in session.execute(query)]

    return {"day": rows((d.day, d.surface), PER_DAY),
            "surface": rows((d.surface,), SUMMED),
            "provider": rows((d.provider, d.model), SUMMED),
            "team": rows((d.team,), SUMMED)}


def month_masks(start: date, end: date) -> list[tuple[date, int]]:
    """(first day of month, bitmask of the range's days in it) for every month touched."""
    masks, day = [], start
    while day <= end:
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        last = min(end, following - timedelta(days=1))
        mask = sum(1 << (d - 1) for d in range(day.day, last.day + 1))
        masks.append((first, mask))
        day = following
    return masks


def _active_users(session, filters: Filters) -> dict[str, Any]:
    """Distinct users who drafted in the range: overall, per team and per surface.

    One scan of the month rows; a row counts when its day masks meet the range's days.
    """
    u = UserMonth
    masks = month_masks(filters.start, filters.end)
    wanted = case(*((u.month == month, mask) for month, mask in masks), else_=0)
    columns = {"outlook": u.days_outlook, "gmail": u.days_gmail, "api": u.days_api}
    if filters.surface:
        columns = {filters.surface: columns[filters.surface]}
    hit = {name: column.op("&")(wanted) != 0 for name, column in columns.items()}
    where = [u.month >= masks[0][0], u.month <= masks[-1][0], or_(*hit.values())]
    if filters.team is not None:
        where.append(u.team == ("" if filters.team == "(none)" else filters.team))
    if filters.provider:
        where.append(u.provider == filters.provider)
    flags = [func.max(case((condition, 1), else_=0)) for condition in hit.values()]
    rows = session.execute(select(u.team, u.user_id, *flags).where(*where)
                           .group_by(u.team, u.user_id)).all()
    everyone: set[str] = set()
    team: dict[str, set[str]] = defaultdict(set)
    surface: dict[str, int] = defaultdict(int)
    by_user_surface: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        everyone.add(row[1])
        team[row[0] or "(none)"].add(row[1])
        for name, flag in zip(hit, row[2:]):
            if flag:
                by_user_surface[name].add(row[1])
    for name, users in by_user_surface.items():
        surface[name] = len(users)
    return {"all": len(everyone), "team": {t: len(v) for t, v in team.items()},
            "surface": dict(surface)}


def today() -> date:
    """Today in UTC, the calendar the rollup uses."""
    return rollup.utcnow().date()


def record_denied(rt: Runtime, principal: Principal, action: str, path: str) -> None:
    """Audit a refused look at analytics, like every other denied action."""
    from backend.services import audit
    with rt.db.session(principal.tenant_id) as session:
        audit.record(rt, session, principal, "access.denied", result="denied",
                     details={"action": action, "path": path[:200]})


def _refusals(session, tenant: str, filters: Filters,
              start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Rate-limit and budget refusals per day and limit (a refused call makes no draft).

    Refusals happen before a provider is chosen, so the provider filter does not apply.
    """
    lo = rollup.day_start(start or filters.start)
    hi = rollup.day_start((end or filters.end) + timedelta(days=1))
    r = LimitRefusal
    day = rollup.day_of(r.created_at, session.get_bind().dialect.name)
    query = (select(day, r.name, func.count()).select_from(r).join(User, User.id == r.user_id)
             .where(r.tenant_id == tenant, r.created_at >= lo, r.created_at < hi)
             .group_by(day, r.name))
    if filters.surface:
        query = query.where(r.surface.in_(SURFACES[filters.surface]))
    if filters.team is not None:
        team = "" if filters.team == "(none)" else filters.team
        query = query.where(func.coalesce(User.team, "") == team)
    found = []
    for day_value, name, count in session.execute(query):
        kind = LIMITS.get(name, ("", "rate", ""))[1]
        found.append({"day": rollup.as_date(day_value), "limit": name, "kind": kind,
                      "count": int(count)})
    return found


def drift(rt: Runtime, principal: Principal, filters: Filters | None = None, *,
          refresh: bool = True) -> tuple[list[drift_rules.DriftResult], dict[str, str]]:
    """Compare the recent window (ending at the range's end) with the baseline before it."""
    rbac.require(principal, "analytics.read")
    s = rt.settings
    today = rollup.utcnow().date()
    filters = filters or Filters(today, today)
    if refresh:
        rollup.refresh(rt, principal.tenant_id)
    recent_start = filters.end - timedelta(days=s.drift_recent_days - 1)
    base_end = recent_start - timedelta(days=1)
    base_start = base_end - timedelta(days=s.drift_baseline_days - 1)
    with rt.db.session(principal.tenant_id) as session:
        baseline = window_stats(session, principal.tenant_id, filters, base_start, base_end)
        recent = window_stats(session, principal.tenant_id, filters, recent_start, filters.end)
    windows = {"baseline": f"{base_start} – {base_end}",
               "recent": f"{recent_start} – {filters.end}"}
    return drift_rules.compare(baseline, recent, s.drift_thresholds), windows


def window_stats(session, tenant: str, filters: Filters, start: date,
                 end: date) -> drift_rules.WindowStats:
    """Totals of one drift window from the rollup."""
    d = DailyUsage
    totals = session.execute(select(
        func.coalesce(func.sum(d.drafts), 0), func.coalesce(func.sum(d.inserted), 0),
        func.coalesce(func.sum(d.empty), 0), func.coalesce(func.sum(d.failed), 0),
        func.coalesce(func.sum(d.text_length_sum), 0), func.coalesce(func.sum(d.edit_count), 0),
        func.coalesce(func.sum(d.edit_ratio_sum), 0.0))
        .where(*filters.where(d, start=start, end=end))).one()
    mix = {f"{p}/{m}": int(n) for p, m, n in session.execute(
        select(d.provider, d.model, func.sum(d.drafts))
        .where(*filters.where(d, start=start, end=end)).group_by(d.provider, d.model))}
    latency = filters.latency_model()
    hist = {int(b): int(n) for b, n in session.execute(
        select(latency.bucket, func.sum(latency.count))
        .where(latency.kind == "latency", *filters.where(latency, start=start, end=end))
        .group_by(latency.bucket))}
    refusals = sum(r["count"] for r in _refusals(session, tenant, filters, start, end))
    drafts, inserted, empty, failed, length, edits, edit_sum = totals
    return drift_rules.WindowStats(
        drafts=int(drafts), inserted=int(inserted), empty=int(empty), failed=int(failed),
        refusals=refusals, text_length_sum=int(length), edit_count=int(edits),
        edit_ratio_sum=float(edit_sum), latency_hist=hist, mix=mix)


def _drift_table(results: list[drift_rules.DriftResult]) -> Table:
    percent_change = {"draft_length", "latency_p95"}
    return Table("drift", "Drift: recent window against baseline", [
        Column("label", "Metric"), Column("baseline", "Baseline", "float"),
        Column("recent", "Recent", "float"), Column("change", "Change", "float"),
        Column("threshold", "Threshold", "float"), Column("status", "Status")],
        [{"metric": r.metric, "label": r.label,
          "baseline": None if r.baseline is None else round(r.baseline, 4),
          "recent": None if r.recent is None else round(r.recent, 4),
          "change": None if r.change is None else round(r.change, 4),
          "threshold": r.threshold, "status": r.status, "note": r.note,
          "relative": r.metric in percent_change} for r in results])


def tenant_drift_gauges(rt: Runtime) -> list[tuple[str, drift_rules.DriftResult]]:
    """Every tenant's drift for today's windows, for /metrics (cached by the caller)."""
    from backend.storage.models import Tenant
    with rt.db.session(all_tenants=True) as session:
        tenants = list(session.scalars(select(Tenant.id)))
    out = []
    for tenant in tenants:
        system = Principal(idp="system", tenant_id=tenant, subject="metrics",
                           roles=frozenset({"analyst"}))
        results, _ = drift(rt, system, refresh=False)
        out.extend((tenant, r) for r in results)
    return out


def latency_percentiles(hist_rows, kind: str) -> dict[str, float | None]:
    """p50/p95 of one kind over (kind, day, bucket, count) rows."""
    merged: dict[int, int] = defaultdict(int)
    for k, _day, bucket, count in hist_rows:
        if k == kind:
            merged[int(bucket)] += int(count)
    return {"p50": percentile(merged, 0.5), "p95": percentile(merged, 0.95)}
