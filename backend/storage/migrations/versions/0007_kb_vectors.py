"""Knowledge base: passage embeddings with pgvector on PostgreSQL (issue 8, hybrid ranking)

Revision ID: 0007
Revises: 0006

Creates the `vector` extension and the kb_vectors table where the PostgreSQL server has
pgvector; elsewhere (SQLite, or a server without the extension) it does nothing, and hybrid
ranking re-ranks lexical candidates with embeddings made at query time instead.

A server that gets pgvector later needs no new revision: `replywise kb embed` creates the same
table through backend/knowledge/vectors.py. The DDL is copied here rather than imported, so a
later change there cannot change what this revision does;
tests/knowledge/test_kb_vectors.py checks that the two still create the same table.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS kb_vectors (
    chunk_id bigint NOT NULL,
    tenant_id varchar(64) NOT NULL,
    model varchar(200) NOT NULL,
    dims smallint NOT NULL,
    embedding halfvec NOT NULL,
    CONSTRAINT pk_kb_vectors PRIMARY KEY (chunk_id),
    CONSTRAINT fk_kb_vectors_chunk_id_kb_chunks FOREIGN KEY (chunk_id)
        REFERENCES kb_chunks (id) ON DELETE CASCADE,
    CONSTRAINT ck_kb_vectors_dims CHECK (dims = vector_dims(embedding)))"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.execute(sa.text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).first()
    if available:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        op.execute(CREATE_TABLE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS kb_vectors")
