"""phone-made ids of round checks and findings (offline rounds)

A check or finding recorded offline carries the id the inspector's phone made for it; the
unique constraint makes a repeated sync record it once.

Revision ID: 0009
Revises: 0010
Create Date: 2026-11-27

"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inspection_check', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=36), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_inspection_check_client_id'), ['client_id']
        )

    with op.batch_alter_table('defect', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.String(length=36), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_defect_client_id'), ['client_id'])


def downgrade():
    with op.batch_alter_table('defect', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_defect_client_id'), type_='unique')
        batch_op.drop_column('client_id')

    with op.batch_alter_table('inspection_check', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_inspection_check_client_id'), type_='unique')
        batch_op.drop_column('client_id')
