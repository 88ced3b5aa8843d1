"""Limits and budgets (issue 7): the rules admins set, the counters that enforce them when
Redis is not configured, and refusals (queryable by analytics without reading the audit chain)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.storage.models.base import Base, TenantOwned, UTCDateTime, new_id, utcnow


class LimitRule(TenantOwned, Base):
    """One cap on a named limit (backend/governance/limits.py); subject "" = the default."""

    __tablename__ = "limit_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "name", "subject",
                                       name="uq_limit_rules_rule"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(100), default="")  # user id or team name
    value: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LimitCounter(TenantOwned, Base):
    """Usage in one window (database limit store). `key` = tenant|limit|subject|window."""

    __tablename__ = "limit_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    # Past this the window is over (plus a grace for late settlements); rows are then deleted.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LimitRefusal(TenantOwned, Base):
    """A request refused by a limit: counted for analytics (the audit event is the record)."""

    __tablename__ = "limit_refusals"
    __table_args__ = (Index("ix_limit_refusals_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))       # the limit, e.g. user_rpm
    surface: Mapped[str] = mapped_column(String(16))
    retry_after_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
