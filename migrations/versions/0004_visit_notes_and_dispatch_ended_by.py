"""visit notes and dispatch ended_by

A table for the clerk's notes while looking after a visitor (代為接待), and who ended a
dispatch (cancelled or transferred it; arrived_by_id already says who confirmed an arrival).

Revision ID: 0004
Revises: 0008
Create Date: 2026-11-26 03:49:14.620144

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('visit_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('dispatch_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_visit_note_by_id_user')),
    sa.ForeignKeyConstraint(['dispatch_id'], ['dispatch.id'], name=op.f('fk_visit_note_dispatch_id_dispatch')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_note_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_note'))
    )
    with op.batch_alter_table('visit_note', schema=None) as batch_op:
        batch_op.create_index('ix_visit_note_visit', ['visit_id', 'at'], unique=False)

    with op.batch_alter_table('dispatch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_dispatch_ended_by_id_user'), 'user', ['ended_by_id'], ['id'])



def downgrade():
    with op.batch_alter_table('dispatch', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dispatch_ended_by_id_user'), type_='foreignkey')
        batch_op.drop_column('ended_by_id')

    with op.batch_alter_table('visit_note', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_note_visit')

    op.drop_table('visit_note')
