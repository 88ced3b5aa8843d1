"""The knowledge base: documents, who may read them, their chunks, and users' groups (issue 8).

Chunk ids encode their document: `id = document_id << CHUNK_BITS | ordinal`. Retrieval can then
test a full-text match against the set of documents the caller may read from the match's rowid
alone, inside the SQL query and without a lookup per match; and replacing a document's chunks is
a primary-key range delete. Chunks are not TenantOwned: they are only ever reached through
their document, which is, and every query joins through it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.storage.models.base import Base, TenantOwned, UTCDateTime, utcnow

# 2**20 chunks per document: a 500-page manual makes ~2,000.
CHUNK_BITS = 20
# SQLite only makes an INTEGER PRIMARY KEY the rowid (and autoincrementing); BIGINT elsewhere.
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class KbDocument(TenantOwned, Base):
    """One ingested file. `source` identifies it for re-ingest and sync (path or upload key)."""

    __tablename__ = "kb_documents"
    __table_args__ = (UniqueConstraint("tenant_id", "source", name="uq_kb_documents_source"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(1000))
    media_type: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    owner_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KbAccess(TenantOwned, Base):
    """One grant of read access to a document: to a group, or to a user (id or subject)."""

    __tablename__ = "kb_access"
    __table_args__ = (Index("ix_kb_access_principal", "tenant_id", "kind", "principal"),)

    document_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("kb_documents.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)       # group | user
    principal: Mapped[str] = mapped_column(String(320), primary_key=True)


class KbChunk(Base):
    """A passage of a document, on one page; the full-text index is kept by the database."""

    __tablename__ = "kb_chunks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    document_id: Mapped[int] = mapped_column(BigInteger)
    page: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class UserGroup(TenantOwned, Base):
    """A group membership kept in the database (groups may also arrive in the identity token)."""

    __tablename__ = "user_groups"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    group_name: Mapped[str] = mapped_column(String(200), primary_key=True)
