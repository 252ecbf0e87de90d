"""audit trail hash chain and append-only guard

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-26

"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
FIELDS = ("seq", "at", "user_id", "actor", "action", "object_type", "object_id", "before",
          "after", "ip", "prev_hash")

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION citydesk_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_entry is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
  FOR EACH ROW EXECUTE FUNCTION citydesk_audit_append_only();
"""


def _hash(row: dict) -> str:
    # Frozen copy of models.core.audit.content_hash at the time of this migration.
    fields = {name: row[name] for name in FIELDS}
    fields["at"] = row["at"].isoformat()
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade():
    from models.core.types import UTCDateTime

    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    # Chain whatever rows exist already, in the order they were written.
    bind = op.get_bind()
    entry = sa.table('audit_entry', sa.column('id'), sa.column('seq'), sa.column('at', UTCDateTime()),
                     sa.column('user_id'), sa.column('actor'), sa.column('action'),
                     sa.column('object_type'), sa.column('object_id'),
                     sa.column('before', sa.JSON()), sa.column('after', sa.JSON()),
                     sa.column('ip'), sa.column('prev_hash'), sa.column('hash'))
    prev, seq = GENESIS, 0
    for row in bind.execute(sa.select(entry).order_by(entry.c.id)).mappings().all():
        seq += 1
        values = dict(row, seq=seq, prev_hash=prev)
        prev = _hash(values)
        bind.execute(entry.update().where(entry.c.id == row["id"])
                     .values(seq=seq, prev_hash=values["prev_hash"], hash=prev))
    op.bulk_insert(sa.table('audit_head', sa.column('id'), sa.column('seq'), sa.column('hash')),
                   [{"id": 1, "seq": seq, "hash": prev}])

    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_audit_entry_seq'), ['seq'])
    if bind.dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS citydesk_audit_append_only()")
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_entry_seq'), type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
    op.drop_table('audit_head')
