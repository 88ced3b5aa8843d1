"""Limits, budgets and the draft cache (issue 7)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('limit_rules',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_limit_rules')),
    sa.UniqueConstraint('tenant_id', 'name', 'subject', name='uq_limit_rules_rule')
    )
    with op.batch_alter_table('limit_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_limit_rules_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('limit_counters',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_limit_counters'))
    )
    with op.batch_alter_table('limit_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_limit_counters_expires_at'), ['expires_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_limit_counters_tenant_id'), ['tenant_id'],
                              unique=False)

    op.create_table('limit_refusals',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('surface', sa.String(length=16), nullable=False),
    sa.Column('retry_after_s', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_limit_refusals_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_limit_refusals'))
    )
    with op.batch_alter_table('limit_refusals', schema=None) as batch_op:
        batch_op.create_index('ix_limit_refusals_tenant_created', ['tenant_id', 'created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_limit_refusals_tenant_id'), ['tenant_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_limit_refusals_user_id'), ['user_id'], unique=False)

    # Draft cache hits: no provider call; saved_usd is what the call would have cost.
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cached', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('saved_usd', sa.Numeric(precision=12, scale=6),
                                      nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('drafts', schema=None) as batch_op:
        batch_op.drop_column('saved_usd')
        batch_op.drop_column('cached')

    with op.batch_alter_table('limit_refusals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_limit_refusals_user_id'))
        batch_op.drop_index(batch_op.f('ix_limit_refusals_tenant_id'))
        batch_op.drop_index('ix_limit_refusals_tenant_created')
    op.drop_table('limit_refusals')

    with op.batch_alter_table('limit_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_limit_counters_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_limit_counters_expires_at'))
    op.drop_table('limit_counters')

    with op.batch_alter_table('limit_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_limit_rules_tenant_id'))
    op.drop_table('limit_rules')
