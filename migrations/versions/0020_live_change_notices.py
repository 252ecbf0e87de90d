"""PostgreSQL tells the web processes when a live list may have changed (issue 14)

Triggers send `NOTIFY citydesk_live` at the commit of every write to the tables the live
list reads: `dispatch`, `visit` and `agency` (once per statement, no payload), `"user"` (per
row, the payload `user:<id>`, so that a process re-checks that user's session at the next
poll; `user:*` when the table is emptied) and `inbox_presence` (per row, the payload `inbox:<seconds since the agency's inbox was
last seen>` or `inbox:new`: the web process decides whether the inbox opened again, by the one
rule `INBOX_OPEN_SECONDS`). Each web process listens and keeps the answer to an unchanged
poll until a notice or the next instant the list changes by itself
(`models/dispatch/live_changes.py`). Triggers rather than the operations, so that no write
path (an import, SQL by hand) is missed. SQLite has no NOTIFY: nothing to do there.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 07:00:00

"""
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

STATEMENT_TABLES = ("dispatch", "visit", "agency")

FUNCTIONS = """
CREATE FUNCTION citydesk_live_changed() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('citydesk_live', '');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION citydesk_live_user_changed() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('citydesk_live', 'user:*');
  ELSE
    PERFORM pg_notify('citydesk_live', 'user:' || COALESCE(NEW.id, OLD.id));
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION citydesk_live_inbox_seen() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'TRUNCATE') THEN
    PERFORM pg_notify('citydesk_live', 'inbox:new');
  ELSIF NEW.seen_at IS DISTINCT FROM OLD.seen_at THEN
    PERFORM pg_notify('citydesk_live',
      'inbox:' || EXTRACT(EPOCH FROM (NEW.seen_at - OLD.seen_at))::text);
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTIONS)
    for table in STATEMENT_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_live_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION citydesk_live_changed()"
        )
    op.execute(
        'CREATE TRIGGER user_live_changed AFTER INSERT OR UPDATE OR DELETE ON "user" '
        "FOR EACH ROW EXECUTE FUNCTION citydesk_live_user_changed()"
    )
    op.execute(
        'CREATE TRIGGER user_live_truncated AFTER TRUNCATE ON "user" '
        "FOR EACH STATEMENT EXECUTE FUNCTION citydesk_live_user_changed()"
    )
    op.execute(
        "CREATE TRIGGER inbox_presence_live_seen AFTER INSERT OR UPDATE ON inbox_presence "
        "FOR EACH ROW EXECUTE FUNCTION citydesk_live_inbox_seen()"
    )
    op.execute(
        "CREATE TRIGGER inbox_presence_live_truncated AFTER TRUNCATE ON inbox_presence "
        "FOR EACH STATEMENT EXECUTE FUNCTION citydesk_live_inbox_seen()"
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in STATEMENT_TABLES:
        op.execute(f"DROP TRIGGER {table}_live_changed ON {table}")
    op.execute('DROP TRIGGER user_live_changed ON "user"')
    op.execute('DROP TRIGGER user_live_truncated ON "user"')
    op.execute("DROP TRIGGER inbox_presence_live_seen ON inbox_presence")
    op.execute("DROP TRIGGER inbox_presence_live_truncated ON inbox_presence")
    op.execute("DROP FUNCTION citydesk_live_changed()")
    op.execute("DROP FUNCTION citydesk_live_user_changed()")
    op.execute("DROP FUNCTION citydesk_live_inbox_seen()")
