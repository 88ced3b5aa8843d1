"""Tenants, users and role grants."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.storage.models.base import Base, TenantOwned, UTCDateTime, new_id, utcnow


class Tenant(Base):
    """A customer organisation. `policy` holds its governance settings (PII, providers, ...)."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TenantDomain(Base):
    """A Google Workspace domain (the ID token's `hd`) mapped to the tenant its users belong to.

    Not tenant-owned: it is read before the caller's tenant is known, to find that tenant.
    """

    __tablename__ = "tenant_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(TenantOwned, Base):
    """A person, keyed by identity provider + tenant + subject (Entra tid+oid, Google sub)."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "idp", "subject", name="uq_users_identity"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idp: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    team: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RoleGrant(TenantOwned, Base):
    """A role granted in the database (roles may also arrive in the identity token)."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_role_grants_user_role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    granted_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
