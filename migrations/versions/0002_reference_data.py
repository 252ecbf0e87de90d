"""reference data: agencies, zones, floors, defect categories, yearly targets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    from models.reference.seed import seed_reference_data

    seed_reference_data(op.get_bind())


def downgrade():
    # Reference rows may be referenced by records; they stay.
    pass
