"""acknowledgement links (issue 13)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ack_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('dispatch_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_ack_link_agency_id_agency')),
    sa.ForeignKeyConstraint(['dispatch_id'], ['dispatch.id'], name=op.f('fk_ack_link_dispatch_id_dispatch')),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_ack_link_notification_id_notification'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_ack_link_user_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ack_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_ack_link_token_hash'))
    )
    with op.batch_alter_table('ack_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ack_link_dispatch_id'), ['dispatch_id'], unique=False)


def downgrade():
    with op.batch_alter_table('ack_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ack_link_dispatch_id'))
    op.drop_table('ack_link')
