"""Analytics indexes and aggregates (issue 6)

Revision ID: 0004
Revises: 0003

Rollup tables for the analytics page (backend/storage/models/analytics.py) and an index on
feedback (tenant_id, created_at), which the incremental refresh reads by time. That index is
declared here only, not on the feedback model of another domain.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None



def _dims(team: bool = True) -> list[sa.Column]:
    return [sa.Column('day', sa.Date(), nullable=False),
            sa.Column('surface', sa.String(length=16), nullable=False),
            *([sa.Column('team', sa.String(length=100), nullable=False)] if team else []),
            sa.Column('provider', sa.String(length=64), nullable=False)]


def _tenant_indexes(table: str) -> None:
    op.create_index(f'ix_{table}_tenant_id', table, ['tenant_id'])
    op.create_index(f'ix_{table}_tenant_day', table, ['tenant_id', 'day'])


def upgrade() -> None:
    counters = ('drafts', 'completed', 'offline', 'cancelled', 'failed', 'empty', 'retried',
                'failover_drafts', 'failovers', 'offline_fallbacks')
    op.create_table(
        'analytics_daily',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        *_dims(),
        sa.Column('model', sa.String(length=100), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in counters],
        sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
        sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
        sa.Column('cost_usd', sa.Numeric(16, 6), nullable=False),
        sa.Column('text_length_sum', sa.BigInteger(), nullable=False),
        sa.Column('latency_sum_ms', sa.BigInteger(), nullable=False),
        sa.Column('ttft_count', sa.Integer(), nullable=False),
        sa.Column('ttft_sum_ms', sa.BigInteger(), nullable=False),
        sa.Column('cached', sa.Integer(), nullable=False),
        sa.Column('saved_usd', sa.Numeric(16, 6), nullable=False),
        sa.Column('inserted', sa.Integer(), nullable=False),
        sa.Column('discarded', sa.Integer(), nullable=False),
        sa.Column('rated_up', sa.Integer(), nullable=False),
        sa.Column('rated_down', sa.Integer(), nullable=False),
        sa.Column('edit_count', sa.Integer(), nullable=False),
        sa.Column('edit_ratio_sum', sa.Float(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_daily')),
    )
    _tenant_indexes('analytics_daily')

    op.create_table(
        'analytics_latency',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        *_dims(team=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('bucket', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_latency')),
    )
    _tenant_indexes('analytics_latency')

    op.create_table(
        'analytics_pii',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        *_dims(),
        sa.Column('pii_type', sa.String(length=32), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_pii')),
    )
    _tenant_indexes('analytics_pii')

    op.create_table(
        'analytics_user_months',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('team', sa.String(length=100), nullable=False),
        sa.Column('provider', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('days_outlook', sa.Integer(), nullable=False),
        sa.Column('days_gmail', sa.Integer(), nullable=False),
        sa.Column('days_api', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_analytics_user_months_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_user_months')),
        sa.UniqueConstraint('tenant_id', 'month', 'user_id', 'team', 'provider',
                            name='uq_analytics_user_months_key'),
    )
    op.create_index('ix_analytics_user_months_tenant_id', 'analytics_user_months', ['tenant_id'])
    op.create_index('ix_analytics_user_months_tenant_month', 'analytics_user_months',
                    ['tenant_id', 'month'])
    op.create_index('ix_analytics_user_months_user_id', 'analytics_user_months', ['user_id'])

    op.create_table(
        'analytics_state',
        sa.Column('tenant_id', sa.String(length=64), nullable=False),
        sa.Column('refreshed_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', name=op.f('pk_analytics_state')),
    )

    op.create_index('ix_feedback_tenant_created', 'feedback', ['tenant_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_feedback_tenant_created', table_name='feedback')
    op.drop_table('analytics_state')
    op.drop_table('analytics_user_months')
    op.drop_table('analytics_pii')
    op.drop_table('analytics_latency')
    op.drop_table('analytics_daily')
