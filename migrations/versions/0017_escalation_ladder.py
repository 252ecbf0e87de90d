"""the escalation ladder kept by a supervisor, in versions

Table escalation_ladder (the default ladder and per-agency overrides, added and never
changed) and dispatch.ladder_id (the version a dispatch follows, recorded when it is
notified). The first default version is made from this application's configured ladder
(CITYDESK_ESCALATION_REMINDER_SECONDS, _BREACH_TO_SUPERVISORS, _CHIEF_SECONDS), and every
dispatch already recorded follows it, so their schedules do not change.

Revision ID: 0017
Revises: 0013
Create Date: 2026-11-27 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('escalation_ladder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('inherit', sa.Boolean(), nullable=False),
    sa.Column('reminder_before_seconds', sa.Integer(), nullable=True),
    sa.Column('repeat_every_seconds', sa.Integer(), nullable=True),
    sa.Column('breach_to_supervisors', sa.Boolean(), nullable=False),
    sa.Column('chief_after_seconds', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('agency_id IS NOT NULL OR NOT inherit', name=op.f('ck_escalation_ladder_inherit_needs_agency')),
    sa.ForeignKeyConstraint(['agency_id'], ['agency.id'], name=op.f('fk_escalation_ladder_agency_id_agency')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_escalation_ladder_created_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalation_ladder'))
    )
    with op.batch_alter_table('escalation_ladder', schema=None) as batch_op:
        batch_op.create_index('ix_escalation_ladder_agency', ['agency_id', 'id'], unique=False)

    with op.batch_alter_table('dispatch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ladder_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_dispatch_ladder_id_escalation_ladder'), 'escalation_ladder', ['ladder_id'], ['id'])

    from flask import current_app

    from models.dispatch.ladder import Rungs, seed_default

    connection = op.get_bind()
    version = seed_default(connection, Rungs.from_config(current_app.config))
    connection.execute(
        sa.text('UPDATE dispatch SET ladder_id = :version WHERE ladder_id IS NULL'),
        {'version': version},
    )


def downgrade():
    with op.batch_alter_table('dispatch', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dispatch_ladder_id_escalation_ladder'), type_='foreignkey')
        batch_op.drop_column('ladder_id')

    with op.batch_alter_table('escalation_ladder', schema=None) as batch_op:
        batch_op.drop_index('ix_escalation_ladder_agency')

    op.drop_table('escalation_ladder')
