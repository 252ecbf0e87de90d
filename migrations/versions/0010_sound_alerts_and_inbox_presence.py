"""sound alerts per user and inbox presence per agency

Agency staff hear new dispatches unless they switch the sound off (user.sound_alerts, on by
default); the desk sees whether an agency's inbox is open (inbox_presence: its last poll).

Revision ID: 0010
Revises: 0011
Create Date: 2026-11-26 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inbox_presence',
    sa.Column('agency_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_inbox_presence_agency_id_agency'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agency_id', name=op.f('pk_inbox_presence'))
    )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sound_alerts', sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('sound_alerts')

    op.drop_table('inbox_presence')
