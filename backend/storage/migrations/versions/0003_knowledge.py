"""Knowledge base: documents, chunks, full-text indexes (issue 8)

Revision ID: 0003
Revises: 0002

The full-text index differs by database: an FTS5 table over kb_chunks (external content, kept in
step by triggers; BM25 ranking) on SQLite, and a generated tsvector column with a GIN index on
PostgreSQL. Both stem English ('porter' / the 'english' configuration) so "invoices" finds
"invoice".
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "kb_documents",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_documents"),
        sa.UniqueConstraint("tenant_id", "source", name="uq_kb_documents_source"),
    )
    op.create_index("ix_kb_documents_tenant_id", "kb_documents", ["tenant_id"])
    op.create_index("ix_kb_documents_owner_user_id", "kb_documents", ["owner_user_id"])
    op.create_table(
        "kb_access",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("principal", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "kind", "principal", name="pk_kb_access"),
        sa.ForeignKeyConstraint(["document_id"], ["kb_documents.id"], ondelete="CASCADE",
                                name="fk_kb_access_document_id_kb_documents"),
    )
    op.create_index("ix_kb_access_tenant_id", "kb_access", ["tenant_id"])
    op.create_index("ix_kb_access_principal", "kb_access", ["tenant_id", "kind", "principal"])
    op.create_table(
        "kb_chunks",
        sa.Column("id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("document_id", sa.BigInteger(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_chunks"),
    )
    op.create_table(
        "user_groups",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("group_name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "group_name", name="pk_user_groups"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_user_groups_user_id_users"),
    )
    op.create_index("ix_user_groups_tenant_id", "user_groups", ["tenant_id"])

    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute("ALTER TABLE kb_chunks ADD COLUMN tsv tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED")
        op.execute("CREATE INDEX ix_kb_chunks_tsv ON kb_chunks USING gin (tsv)")
        # ANALYZE then lists the ~5,000 commonest lexemes with their frequencies (default: ~1,000),
        # which retrieval uses to skip words too common to be worth an index probe.
        op.execute("ALTER TABLE kb_chunks ALTER COLUMN tsv SET STATISTICS 1000")


_SQLITE_FTS = (
    # detail=column: no positions (Replywise never runs phrase queries), about half the size.
    "CREATE VIRTUAL TABLE kb_chunks_fts USING fts5(text, content='kb_chunks', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2', detail=column)",
    # Document frequencies per term, for choosing selective query terms.
    "CREATE VIRTUAL TABLE kb_chunks_vocab USING fts5vocab(kb_chunks_fts, row)",
    "CREATE TRIGGER kb_chunks_ai AFTER INSERT ON kb_chunks BEGIN "
    "INSERT INTO kb_chunks_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER kb_chunks_ad AFTER DELETE ON kb_chunks BEGIN "
    "INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "END",
    "CREATE TRIGGER kb_chunks_au AFTER UPDATE ON kb_chunks BEGIN "
    "INSERT INTO kb_chunks_fts(kb_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO kb_chunks_fts(rowid, text) VALUES (new.id, new.text); END",
)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("kb_chunks_au", "kb_chunks_ad", "kb_chunks_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS kb_chunks_vocab")
        op.execute("DROP TABLE IF EXISTS kb_chunks_fts")
    op.drop_table("user_groups")
    op.drop_table("kb_chunks")
    op.drop_table("kb_access")
    op.drop_table("kb_documents")
