"""The audit trail is append-only and tamper-evident (a hash chain checked by `audit verify`)."""

import pytest
import sqlalchemy as sa

from models.core import db
from models.core.audit import AuditEntry, pending_entries, record, verify_chain


def _audit_some(n: int) -> None:
    for i in range(n):
        record("test.event", "test", i, None, {"n": i, "名稱": "測試"})
        db.session.commit()


def test_entries_are_chained_in_commit_order(app):
    _audit_some(3)
    rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert verify_chain().ok and verify_chain().checked == 3


def test_a_rolled_back_transaction_leaves_no_entry(app):
    record("test.event", "test", 1)
    assert len(pending_entries()) == 1
    db.session.rollback()
    assert pending_entries() == []
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0


def _tamper(statement: str, is_postgres: bool) -> None:
    with db.engine.begin() as conn:
        if is_postgres:
            conn.execute(sa.text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        conn.execute(sa.text(statement))
        if is_postgres:
            conn.execute(sa.text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"))


def test_an_edited_row_is_reported_by_audit_verify(app, is_postgres, run_cli):
    _audit_some(5)
    _tamper("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3", is_postgres)
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 3, 2)
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert "entry 3" in result.output and "content does not match" in result.output


def test_a_deleted_row_is_reported(app, is_postgres):
    _audit_some(4)
    _tamper("DELETE FROM audit_entry WHERE seq = 2", is_postgres)
    report = verify_chain()
    assert (report.ok, report.broken_seq) == (False, 2)
    _tamper("DELETE FROM audit_entry WHERE seq >= 3", is_postgres)
    report = verify_chain()
    assert report.broken_seq == 2


def test_a_deleted_tail_is_reported(app, is_postgres):
    _audit_some(4)
    _tamper("DELETE FROM audit_entry WHERE seq = 4", is_postgres)
    report = verify_chain()
    assert (report.ok, report.broken_seq) == (False, 4)


def test_audit_verify_passes_on_an_intact_chain(app, run_cli):
    _audit_some(2)
    result = run_cli("audit", "verify")
    assert result.exit_code == 0 and "2 entries" in result.output


@pytest.mark.postgres_only(reason="the append-only trigger exists on PostgreSQL only")
def test_postgres_refuses_updates_and_deletes_of_audit_rows(app):
    _audit_some(1)
    with pytest.raises(sa.exc.ProgrammingError, match="append-only"), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_entry SET actor = 'x'"))
    with pytest.raises(sa.exc.ProgrammingError, match="append-only"), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_entry"))


def test_a_requests_actor_ends_with_the_request(app, create_user):
    """A request records as its signed-in user; once it ends, this thread acts as nobody."""
    from flask.testing import FlaskClient

    from models.core import audit
    from tests.conftest import login

    user = create_user(role="clerk")
    shared = FlaskClient(app)  # requests share this thread's context, as on a threaded server
    assert login(shared, user.username).status_code == 302
    assert shared.get("/").status_code == 200
    assert audit.current_actor() == audit.SYSTEM
