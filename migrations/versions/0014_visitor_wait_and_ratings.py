"""visitor wait, care notes and ratings

The visitor at the counter (issue 13): one-tap care notes are visit notes with a `kind` (the
care note's code; NULL for a free note), the visitor's one answer after the arrival is a
`visit_rating` row (unique per visit: a second answer is refused by the database), and an
index on the dispatches of a visit for the visitor's wait (the dispatch that finally served it).

Revision ID: 0014
Revises: 0017
Create Date: 2026-12-01 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visit_note', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=40), nullable=True))

    with op.batch_alter_table('dispatch', schema=None) as batch_op:
        batch_op.create_index('ix_dispatch_visit_arrived', ['visit_id', 'arrived_at'], unique=False)

    op.create_table('visit_rating',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('dispatch_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("score IN ('satisfied', 'neutral', 'dissatisfied')", name=op.f('ck_visit_rating_score_known')),
    sa.ForeignKeyConstraint(['by_id'], ['user.id'], name=op.f('fk_visit_rating_by_id_user')),
    sa.ForeignKeyConstraint(['dispatch_id'], ['dispatch.id'], name=op.f('fk_visit_rating_dispatch_id_dispatch')),
    sa.ForeignKeyConstraint(['visit_id'], ['visit.id'], name=op.f('fk_visit_rating_visit_id_visit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_rating')),
    sa.UniqueConstraint('visit_id', name='uq_visit_rating_visit_id')
    )


def downgrade():
    op.drop_table('visit_rating')
    with op.batch_alter_table('dispatch', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_visit_arrived')
    with op.batch_alter_table('visit_note', schema=None) as batch_op:
        batch_op.drop_column('kind')
