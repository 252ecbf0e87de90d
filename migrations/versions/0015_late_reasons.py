"""late reasons and the monthly digest

Why a late dispatch was late: the list of reasons a supervisor keeps (late_reason, seeded
with away, not_reached, short_staffed, needs_records and other) and each late dispatch's one
current reason (dispatch_late_reason). monthly_digest records each month whose digest went to
the outbox (its key is what makes the digest job send once).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('late_reason',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label_zh', sa.String(length=50), nullable=False),
    sa.Column('label_en', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_late_reason')),
    sa.UniqueConstraint('code', name=op.f('uq_late_reason_code'))
    )
    op.create_table('dispatch_late_reason',
    sa.Column('dispatch_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reason_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['dispatch_id'], ['dispatch.id'], name=op.f('fk_dispatch_late_reason_dispatch_id_dispatch')),
    sa.ForeignKeyConstraint(['reason_id'], ['late_reason.id'], name=op.f('fk_dispatch_late_reason_reason_id_late_reason')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_dispatch_late_reason_recorded_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('dispatch_id', name=op.f('pk_dispatch_late_reason'))
    )
    with op.batch_alter_table('dispatch_late_reason', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_late_reason_reason_id'), ['reason_id'], unique=False)
    op.create_table('monthly_digest',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('notices', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('month', name=op.f('pk_monthly_digest'))
    )

    from models.reference.seed import seed_late_reasons

    seed_late_reasons(op.get_bind())


def downgrade():
    op.drop_table('monthly_digest')
    with op.batch_alter_table('dispatch_late_reason', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispatch_late_reason_reason_id'))
    op.drop_table('dispatch_late_reason')
    op.drop_table('late_reason')
