"""audit entries are written unsealed and chained by a sealer after commit (issue 14)

An audited transaction no longer locks the one `audit_head` row: it inserts its entries with
no `seq`, `prev_hash` or `hash`, and a sealer (right after the commit, and as a job) numbers
and chains the committed ones in order under the head lock. So the three columns become
nullable, a partial index finds the unsealed rows, and the append-only guard allows exactly one
update of a row: setting those three columns, once, on a row that has none of them, with every
other column unchanged. UPDATE of anything else and DELETE are still refused, on PostgreSQL
(the function of migration 0008, replaced) and on SQLite (the triggers of 0013, which the
table rebuild drops, are created again).

The existing chain is untouched: every row stays sealed as it was, and the hash is the same.
A downgrade refuses while some rows are unsealed (`citydesk audit seal` seals them first).

Also: work_calendar_year.revision, a token changed at each edit of the year's working-day
calendar, so that a process may keep the calendar and read only the revisions per report.

Revision ID: 0019
Revises: 0016
Create Date: 2026-11-27 23:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0016'
branch_labels = None
depends_on = None

SEAL_COLUMNS = ("seq", "prev_hash", "hash")
# Every other column of audit_entry, which the sealing update must leave as it is.
CONTENT_COLUMNS = ("id", "at", "user_id", "actor", "action", "object_type", "object_id",
                   "before", "after", "ip")

PG_FUNCTION_0019 = """
CREATE OR REPLACE FUNCTION citydesk_audit_append_only() RETURNS trigger AS $$
BEGIN
  -- The one allowed update: sealing an unsealed row (seq, prev_hash, hash set once).
  IF TG_OP = 'UPDATE'
     AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
     AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
     AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
         = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash')
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_entry is append-only';
END;
$$ LANGUAGE plpgsql;
"""
PG_FUNCTION_0008 = """
CREATE OR REPLACE FUNCTION citydesk_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_entry is append-only';
END;
$$ LANGUAGE plpgsql;
"""
_RAISE = "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"
_SEALING = " AND ".join(
    [f'OLD."{c}" IS NULL' for c in SEAL_COLUMNS]
    + [f'NEW."{c}" IS NOT NULL' for c in SEAL_COLUMNS]
    + [f'NEW."{c}" IS OLD."{c}"' for c in CONTENT_COLUMNS]
)
SQLITE_TRIGGERS_0019 = {
    "audit_entry_no_update": (
        f"BEFORE UPDATE ON audit_entry FOR EACH ROW WHEN NOT ({_SEALING}) {_RAISE}"
    ),
    "audit_entry_no_delete": f"BEFORE DELETE ON audit_entry FOR EACH ROW {_RAISE}",
}
SQLITE_TRIGGERS_0013 = {
    "audit_entry_no_update": f"BEFORE UPDATE ON audit_entry FOR EACH ROW {_RAISE}",
    "audit_entry_no_delete": f"BEFORE DELETE ON audit_entry FOR EACH ROW {_RAISE}",
}


def _sqlite_triggers(triggers: dict) -> None:
    for name, body in triggers.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table('work_calendar_year', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.String(length=32), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        for name in SEAL_COLUMNS:
            batch_op.alter_column(name, existing_type=sa.String(length=64)
                                  if name != "seq" else sa.Integer(), nullable=True)
        batch_op.create_index('ix_audit_entry_unsealed', ['id'], unique=False,
                              postgresql_where=sa.text('seq IS NULL'),
                              sqlite_where=sa.text('seq IS NULL'))
    if sqlite:
        _sqlite_triggers(SQLITE_TRIGGERS_0019)  # the rebuild dropped those of 0013
    else:
        op.execute(PG_FUNCTION_0019)


def downgrade():
    bind = op.get_bind()
    unsealed = bind.execute(sa.text("SELECT count(*) FROM audit_entry WHERE seq IS NULL"))
    if unsealed.scalar():
        raise RuntimeError("Some audit entries are not sealed yet: run `citydesk audit seal` "
                           "on this version first. Nothing was changed.")
    if bind.dialect.name == "postgresql":
        op.execute(PG_FUNCTION_0008)
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_unsealed',
                            postgresql_where=sa.text('seq IS NULL'),
                            sqlite_where=sa.text('seq IS NULL'))
        for name in SEAL_COLUMNS:
            batch_op.alter_column(name, existing_type=sa.String(length=64)
                                  if name != "seq" else sa.Integer(), nullable=False)
    if bind.dialect.name == "sqlite":
        _sqlite_triggers(SQLITE_TRIGGERS_0013)
    with op.batch_alter_table('work_calendar_year', schema=None) as batch_op:
        batch_op.drop_column('revision')
