"""Usage rollups for the analytics page: per-day aggregates, never message content.

The page reads these instead of the raw drafts table, so a year of a large tenant is a few
thousand rows. They are rebuilt from drafts/feedback day by day (services/analytics_rollup.py):
a day's rows are deleted and recomputed whenever something in that day changed.

Grain: (tenant, UTC day, surface, provider[, team][, model]); active users by month. `team` is
the user's team when the rollup was computed ('' for none). Latency histograms are kept twice,
per team and summed over teams (see LatencyBucket for why).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Date, Float, ForeignKey, Index, Integer, Numeric, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from backend.storage.models.base import Base, TenantOwned, UTCDateTime


class _Dims:
    day: Mapped[date] = mapped_column(Date)
    surface: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))


class _Team:
    team: Mapped[str] = mapped_column(String(100))


class DailyUsage(TenantOwned, _Dims, _Team, Base):
    """Additive counters for one day and one (surface, team, provider, model)."""

    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_tenant_day", "tenant_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String(100))
    drafts: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    offline: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    empty: Mapped[int] = mapped_column(Integer, default=0)
    retried: Mapped[int] = mapped_column(Integer, default=0)           # attempts > 1
    failover_drafts: Mapped[int] = mapped_column(Integer, default=0)   # failovers > 0
    failovers: Mapped[int] = mapped_column(Integer, default=0)
    offline_fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(16, 6), default=Decimal(0))
    text_length_sum: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    ttft_count: Mapped[int] = mapped_column(Integer, default=0)
    ttft_sum_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    cached: Mapped[int] = mapped_column(Integer, default=0)
    saved_usd: Mapped[Decimal] = mapped_column(Numeric(16, 6), default=Decimal(0))
    inserted: Mapped[int] = mapped_column(Integer, default=0)          # drafts inserted (once+)
    discarded: Mapped[int] = mapped_column(Integer, default=0)
    rated_up: Mapped[int] = mapped_column(Integer, default=0)          # feedback rows rating +1
    rated_down: Mapped[int] = mapped_column(Integer, default=0)
    edit_count: Mapped[int] = mapped_column(Integer, default=0)
    edit_ratio_sum: Mapped[float] = mapped_column(Float, default=0.0)


class _LatencyCounts:
    kind: Mapped[str] = mapped_column(String(8))       # latency | ttft
    bucket: Mapped[int] = mapped_column(Integer)       # backend.analytics.histogram index
    count: Mapped[int] = mapped_column(Integer)


class TeamLatencyBucket(TenantOwned, _Dims, _Team, _LatencyCounts, Base):
    """How many drafts of a day and team fell into one latency (or time-to-first-token) bucket.

    The page reads this one only when the team filter is set, and then only that team's rows.
    Summing it over all teams for every unfiltered view would read the team-fold rows (a year
    of 10,000 users in eight teams: 1.1 M); LatencyBucket holds that sum already.
    """

    __tablename__ = "analytics_latency_team"
    __table_args__ = (
        # The rebuild deletes a range of days of every team.
        Index("ix_analytics_latency_team_tenant_day", "tenant_id", "day"),
        # Covers the page's read: one team's days, in the (day, kind, bucket) order it groups
        # by, without visiting the table. Half the time of a (tenant, team, day) index on both
        # databases at 140 k rows a team-year (docs/benchmarks.md).
        Index("ix_analytics_latency_team_covering", "tenant_id", "team", "day", "kind",
              "bucket", "surface", "provider", "count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


class LatencyBucket(TenantOwned, _Dims, _LatencyCounts, Base):
    """TeamLatencyBucket summed over teams: what the page reads without a team filter.

    Two reasons to keep the sum as well as the team grain. Speed: a year of the unfiltered page
    reads a team-fold fewer rows. History: rows written before the team grain existed (migration
    0005) stay here for days whose drafts retention has since deleted, where no team breakdown
    can be rebuilt; those days show latency unfiltered and none under a team filter.
    """

    __tablename__ = "analytics_latency"
    __table_args__ = (Index("ix_analytics_latency_tenant_day", "tenant_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)


class PiiDaily(TenantOwned, _Dims, _Team, Base):
    """Redactions of one personal-data type on one day."""

    __tablename__ = "analytics_pii"
    __table_args__ = (Index("ix_analytics_pii_tenant_day", "tenant_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pii_type: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(BigInteger)


class UserMonth(TenantOwned, _Team, Base):
    """Which days of a month a user drafted through each surface, as bitmasks (bit d-1: day d).

    Distinct active users over any range are one scan of a row per user, month and provider,
    where one row per user and day (and surface) would be about as many rows as drafts.
    """

    __tablename__ = "analytics_user_months"
    __table_args__ = (
        Index("ix_analytics_user_months_tenant_month", "tenant_id", "month"),
        UniqueConstraint("tenant_id", "month", "user_id", "team", "provider",
                         name="uq_analytics_user_months_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[date] = mapped_column(Date)          # the first day of the month
    provider: Mapped[str] = mapped_column(String(64))
    # Erasing a user removes their presence rows with them.
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    days_outlook: Mapped[int] = mapped_column(Integer, default=0)
    days_gmail: Mapped[int] = mapped_column(Integer, default=0)
    days_api: Mapped[int] = mapped_column(Integer, default=0)   # the API and the CLI


class RollupState(Base):
    """Per tenant: until when the rollup is complete (the incremental refresh's watermark).

    Not tenant-owned on purpose: the /metrics refresh walks every tenant's row in one pass.
    """

    __tablename__ = "analytics_state"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    refreshed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
