"""Latency histograms per team (issue 6)

Revision ID: 0005
Revises: 0004

The analytics page's latency panel ignored the team filter because analytics_latency has no
team. This adds analytics_latency_team (day × surface × team × provider × kind × bucket) and
fills it from the drafts still stored.

analytics_latency is kept as it is, not cleared and rebuilt: it becomes the sum over teams that
unfiltered views read, and it is the only record of latency for days whose drafts usage retention
(`replywise retention run --usage-days`) or an erasure has already deleted. A rebuild from the
drafts would lose those days and change the counts of days only partly deleted. Those days get
no team rows, because nothing left says which team their drafts came from.

The backfill takes each user's current team; the rollup proper records the team a day was
computed with, which for past days is no longer known.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLE = 'analytics_latency_team'
# backend/analytics/histogram.py's buckets at this revision, copied so that a later change there
# cannot change what this migration writes. tests/admin/test_latency_migration.py checks the
# backfill against the rollup's own rows.
BANDS = ((0, 1_000, 20), (1_000, 5_000, 100), (5_000, 20_000, 500), (20_000, 60_000, 2_000))

drafts = sa.table('drafts', sa.column('tenant_id', sa.String), sa.column('user_id', sa.String),
                  sa.column('surface', sa.String), sa.column('provider', sa.String),
                  sa.column('status', sa.String), sa.column('latency_ms', sa.Integer),
                  sa.column('ttft_ms', sa.Integer), sa.column('created_at', sa.DateTime))
users = sa.table('users', sa.column('id', sa.String), sa.column('team', sa.String))


def _bucket(column):
    whens, offset = [], 0
    for start, end, width in BANDS:
        whens.append((column < end, sa.literal(offset) + (column - start) // width))
        offset += (end - start) // width
    return sa.case(*whens, else_=sa.literal(offset))


def _utc_day(dialect: str):
    if dialect == 'postgresql':
        return sa.cast(sa.func.timezone('UTC', drafts.c.created_at), sa.Date)
    return sa.func.substr(drafts.c.created_at, 1, 10)  # SQLite keeps 'YYYY-MM-DD HH:MM:SS'


def _backfill() -> None:
    bind = op.get_bind()
    answered = drafts.c.status.notin_(('cancelled', 'failed'))
    keys = (drafts.c.tenant_id, _utc_day(bind.dialect.name), drafts.c.surface,
            sa.func.coalesce(users.c.team, ''), drafts.c.provider)
    target = sa.table(TABLE, *(sa.column(name) for name in (
        'tenant_id', 'day', 'surface', 'team', 'provider', 'kind', 'bucket', 'count')))
    for kind, column, condition in (
            ('latency', drafts.c.latency_ms, answered),
            ('ttft', drafts.c.ttft_ms, sa.and_(answered, drafts.c.ttft_ms.is_not(None)))):
        bucket = _bucket(column)
        source = (sa.select(*keys, sa.literal(kind), bucket, sa.func.count())
                  .select_from(drafts.join(users, users.c.id == drafts.c.user_id))
                  .where(condition).group_by(*keys, bucket))
        bind.execute(target.insert().from_select(list(target.c.keys()), source))


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('surface', sa.String(length=16), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=False),
        sa.Column('provider', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('bucket', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{TABLE}')),
    )
    _backfill()
    # Indexes after the bulk insert: building them once is cheaper than maintaining them per row.
    op.create_index(f'ix_{TABLE}_tenant_id', TABLE, ['tenant_id'])
    op.create_index(f'ix_{TABLE}_tenant_day', TABLE, ['tenant_id', 'day'])
    op.create_index(f'ix_{TABLE}_covering', TABLE, ['tenant_id', 'team', 'day', 'kind', 'bucket',
                                                   'surface', 'provider', 'count'])


def downgrade() -> None:
    op.drop_table(TABLE)
