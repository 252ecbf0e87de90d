"""key the audit chain with an HMAC; append-only triggers on SQLite

Every audit row's hash becomes HMAC-SHA256 under AUDIT_KEY (configuration, else the
instance's audit_key file) instead of a plain SHA-256, so someone who can write to the
database but lacks the key can no longer recompute the chain after an edit. The existing chain
is first verified with the old hash: a broken chain stops the upgrade (re-keying it would
launder the tampering). On SQLite, triggers now refuse UPDATE and DELETE of audit rows, as the
trigger of 0008 does on PostgreSQL. A later migration that rebuilds audit_entry on SQLite
(batch "move and copy") drops these triggers and must create them again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27

"""
import hashlib
import hmac
import json

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
FIELDS = ("seq", "at", "user_id", "actor", "action", "object_type", "object_id", "before",
          "after", "ip", "prev_hash")
BATCH = 1000
SQLITE_TRIGGERS = {
    "audit_entry_no_update": "BEFORE UPDATE ON audit_entry",
    "audit_entry_no_delete": "BEFORE DELETE ON audit_entry",
}
PG_TRIGGER = "audit_entry_append_only"  # created by 0008


# Frozen copies of models.core.audit's canonical JSON and hashes at the time of this migration.
def _canonical(row) -> bytes:
    fields = {name: row[name] for name in FIELDS}
    fields["at"] = row["at"].isoformat()
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str).encode()


def _sha256(row) -> str:
    return hashlib.sha256(_canonical(row)).hexdigest()


def _hmac(row) -> str:
    key = str(current_app.config["AUDIT_KEY"]).encode()
    return hmac.new(key, _canonical(row), hashlib.sha256).hexdigest()


def _tables():
    from models.core.types import UTCDateTime

    entry = sa.table('audit_entry', sa.column('id'), sa.column('seq'),
                     sa.column('at', UTCDateTime()), sa.column('user_id'), sa.column('actor'),
                     sa.column('action'), sa.column('object_type'), sa.column('object_id'),
                     sa.column('before', sa.JSON()), sa.column('after', sa.JSON()),
                     sa.column('ip'), sa.column('prev_hash'), sa.column('hash'))
    head = sa.table('audit_head', sa.column('id'), sa.column('seq'), sa.column('hash'))
    return entry, head


def _batches(bind, entry):
    """The rows in chain order, a batch at a time."""
    last = 0
    while True:
        rows = bind.execute(sa.select(entry).where(entry.c.seq > last).order_by(entry.c.seq)
                            .limit(BATCH)).mappings().all()
        if not rows:
            return
        yield rows
        last = rows[-1]["seq"]


def _check(bind, digest, name: str) -> None:
    """Stop the migration, naming the first broken entry, unless the chain verifies."""
    entry, head = _tables()

    def broken(seq, reason):
        raise RuntimeError(
            f"The audit trail is broken at entry {seq} ({reason}) under the {name} hash; "
            "the migration stops so as not to re-chain (and hide) it. Nothing was changed. "
            "Investigate with `citydesk audit verify` on the version before this one.")

    prev, expected = GENESIS, 1
    for rows in _batches(bind, entry):
        for row in rows:
            if row["seq"] != expected:
                broken(expected, "the entry is missing")
            if row["prev_hash"] != prev:
                broken(row["seq"], "previous-hash link does not match")
            if digest(row) != row["hash"]:
                broken(row["seq"], "content does not match its hash")
            prev, expected = row["hash"], expected + 1
    top = bind.execute(sa.select(head.c.seq, head.c.hash)).first()
    if top is not None and (top.seq, top.hash) != (expected - 1, prev):
        broken(expected, "entries after the last one are missing")


def _rechain(bind, digest) -> None:
    """Recompute every row's link and hash in order with `digest`, and the head."""
    entry, head = _tables()
    change = (entry.update().where(entry.c.id == sa.bindparam('row_id'))
              .values(prev_hash=sa.bindparam('new_prev'), hash=sa.bindparam('new_hash')))
    prev, seq = GENESIS, 0
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute(f"ALTER TABLE audit_entry DISABLE TRIGGER {PG_TRIGGER}")
    for rows in _batches(bind, entry):
        updates = []
        for row in rows:
            new_prev = prev
            prev = digest({**row, "prev_hash": new_prev})
            seq = row["seq"]
            updates.append({"row_id": row["id"], "new_prev": new_prev, "new_hash": prev})
        bind.execute(change, updates)
    if postgres:
        op.execute(f"ALTER TABLE audit_entry ENABLE TRIGGER {PG_TRIGGER}")
    bind.execute(head.update().where(head.c.id == 1).values(seq=seq, hash=prev))


def upgrade():
    bind = op.get_bind()
    _check(bind, _sha256, "old SHA-256")
    _rechain(bind, _hmac)
    if bind.dialect.name == "sqlite":
        for name, when in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW "
                       "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END")


def downgrade():
    bind = op.get_bind()
    _check(bind, _hmac, "keyed (HMAC)")
    if bind.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    _rechain(bind, _sha256)
