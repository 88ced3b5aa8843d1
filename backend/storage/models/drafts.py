"""Drafts (usage metadata; text only when the tenant opts in) and feedback on them."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.storage.models.base import Base, TenantOwned, UTCDateTime, new_id, utcnow


class Draft(TenantOwned, Base):
    """One drafting request and how it went. No message content is stored by default."""

    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    surface: Mapped[str] = mapped_column(String(16))          # outlook | gmail | api | cli
    status: Mapped[str] = mapped_column(String(16))           # completed | offline | cancelled | failed
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(100))
    tone: Mapped[str] = mapped_column(String(16))
    length: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    refine: Mapped[str | None] = mapped_column(String(16))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    ttft_ms: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    failovers: Mapped[int] = mapped_column(Integer, default=0)
    offline_fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    text_length: Mapped[int] = mapped_column(Integer, default=0)
    # Answered from the draft cache (issue 7): no provider call; saved_usd is what it would have cost.
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    saved_usd: Mapped[Decimal] = mapped_column(Numeric(12, 6), default=Decimal(0))
    pii_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Kept only when the tenant opts in to draft retention; cleared by retention runs.
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Feedback(TenantOwned, Base):
    """What the user did with a draft: inserted or discarded, a rating, how much they edited."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    action: Mapped[str | None] = mapped_column(String(16))    # inserted | discarded
    rating: Mapped[int | None] = mapped_column(Integer)       # -1 | 1
    edit_ratio: Mapped[float | None] = mapped_column(Numeric(6, 4))
    final_text: Mapped[str | None] = mapped_column(Text)      # only with draft retention on
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
