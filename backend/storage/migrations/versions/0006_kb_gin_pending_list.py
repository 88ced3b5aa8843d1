"""Knowledge base: a short GIN pending list on PostgreSQL (issue 8, retrieval latency)

Revision ID: 0006
Revises: 0005

GIN's fast update appends new rows' lexemes to a pending list, merged into the index proper
only when the list passes gin_pending_list_limit (4 MB by default) or by (auto)vacuum. Every
index probe reads the whole list: after the benchmark's ingest it held 506 pages (1,591
passages) and cost ~1 ms per probe, for searches of two to eight probes. Autovacuum merges it
only once a tenth of the table has changed, so a live knowledge base usually carries a list
of up to the limit. 512 kB bounds that to ~0.1 ms a probe and keeps inserts batched: in a 54,000-row
test, inserting took ~7% longer than at 4 MB; turning fast update off took three times as long.
SQLite needs nothing.
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_kb_chunks_tsv SET (gin_pending_list_limit = 512)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX ix_kb_chunks_tsv RESET (gin_pending_list_limit)")
