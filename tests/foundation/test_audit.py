"""The audit trail is append-only and tamper-evident: a chain keyed with a secret that is not in
the database (checked by `audit verify`), and signed checkpoints kept outside that a later trail
must extend (`audit checkpoint`, `audit verify --against`)."""

import hashlib
import hmac
import json
import stat
import threading
import time

import pytest
import sqlalchemy as sa

from models.core import audit, clock, db
from models.core.audit import (
    CHAINED_FIELDS,
    GENESIS,
    AuditEntry,
    AuditHead,
    _BackgroundSealer,
    content_hash,
    pending_entries,
    record,
    seal,
    verify_chain,
)
from tests.conftest import TEST_AUDIT_KEY, append_only_lifted


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


def _tamper(*statements: str) -> None:
    """Change audit rows as someone with write access to the database can."""
    with db.engine.begin() as conn, append_only_lifted(conn):
        for statement in statements:
            conn.execute(sa.text(statement))


def _plain_sha256(row) -> str:
    """The old chain's hash: public, so anyone can compute it without a key."""
    fields = {name: row[name] for name in CHAINED_FIELDS}
    fields["at"] = row["at"].isoformat()
    text = json.dumps(
        fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _rewrite_from(seq: int, digest) -> None:
    """Edit entry `seq`, recompute the link and hash of it and every later entry with `digest`,
    and move the head: a rewrite that leaves no broken link for that hash."""
    table, head = AuditEntry.__table__, AuditHead.__table__
    with db.engine.begin() as conn, append_only_lifted(conn):
        conn.execute(sa.update(table).where(table.c.seq == seq).values(actor="mallory"))
        prev = conn.scalar(sa.select(table.c.hash).where(table.c.seq == seq - 1)) or GENESIS
        columns = [table.c[name] for name in CHAINED_FIELDS] + [table.c.id]
        rows = conn.execute(
            sa.select(*columns).where(table.c.seq >= seq).order_by(table.c.seq)
        ).mappings()
        for row in rows.all():
            new_prev, prev = prev, digest({**row, "prev_hash": prev})
            conn.execute(
                sa.update(table)
                .where(table.c.id == row["id"])
                .values(prev_hash=new_prev, hash=prev)
            )
        conn.execute(sa.update(head).values(hash=prev))


def _hashes() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.hash).order_by(AuditEntry.seq)))


def test_an_edited_row_is_reported_by_audit_verify(app, run_cli):
    _audit_some(5)
    _tamper("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3")
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 3, 2)
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert "entry 3" in result.output and "content does not match" in result.output


def test_a_deleted_row_is_reported(app):
    _audit_some(4)
    _tamper("DELETE FROM audit_entry WHERE seq = 2")
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 2, 1)
    assert report.reason == "entry 2 is missing"
    _tamper("DELETE FROM audit_entry WHERE seq >= 3")
    report = verify_chain()
    assert report.broken_seq == 2


def test_a_deleted_tail_is_reported(app):
    _audit_some(4)
    third = _hashes()[2]
    _tamper("DELETE FROM audit_entry WHERE seq = 4")
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 4, 3)
    assert report.reason == "entries after the last one are missing"
    assert report.last_hash == third  # the hash of the last intact entry


def test_audit_verify_passes_on_an_intact_chain(app, run_cli):
    _audit_some(2)
    result = run_cli("audit", "verify")
    assert result.exit_code == 0 and "2 entries" in result.output


def test_the_database_refuses_updates_and_deletes_of_audit_rows(app):
    """A trigger on PostgreSQL and on SQLite alike."""
    _audit_some(1)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_entry SET actor = 'x'"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_entry"))
    assert db.session.scalar(sa.select(AuditEntry.actor)) == "system"


def test_a_rewrite_that_recomputes_every_later_hash_is_caught(app, run_cli):
    """Without the key, an edit cannot be hidden by recomputing the chain after it."""
    _audit_some(5)
    _rewrite_from(3, _plain_sha256)
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 3, 2)
    result = run_cli("audit", "verify")
    assert result.exit_code == 1 and "entry 3" in result.output


def test_the_chain_is_keyed_with_the_audit_key(app):
    _audit_some(2)
    first = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.seq == 1))
    row = {name: getattr(first, name) for name in CHAINED_FIELDS}
    fields = {**row, "at": first.at.isoformat()}
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    expected = hmac.new(TEST_AUDIT_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()
    assert first.hash == expected != _plain_sha256(row)
    app.config["AUDIT_KEY"] = "another-key-" + "1" * 52
    try:
        assert verify_chain().broken_seq == 1
    finally:
        app.config["AUDIT_KEY"] = TEST_AUDIT_KEY
    assert verify_chain().ok


def test_without_an_audit_key_the_app_makes_one_in_the_instance_folder(monkeypatch, tmp_path):
    from webapp import create_app

    monkeypatch.setenv("CITYDESK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("CITYDESK_AUDIT_KEY", raising=False)
    first, second = create_app(), create_app()
    key_file = tmp_path / "audit_key"
    assert first.config["AUDIT_KEY"] == second.config["AUDIT_KEY"] == key_file.read_text()
    assert len(first.config["AUDIT_KEY"]) >= 64
    assert first.config["AUDIT_KEY"] != first.config["SECRET_KEY"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# --- Checkpoints: the signed head, kept outside, that the trail must still extend ---------


def _checkpoint(run_cli, tmp_path, name="checkpoint.json"):
    path = tmp_path / name
    result = run_cli("audit", "checkpoint", "--output", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_a_checkpoint_is_the_signed_head_that_a_longer_trail_extends(
    app, run_cli, tmp_path, frozen_clock
):
    _audit_some(3)
    path = tmp_path / "checkpoint.json"
    result = run_cli("audit", "checkpoint", "--output", str(path))
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads(path.read_text())
    third = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.seq == 3))
    assert printed["seq"] == 3 and printed["hash"] == third.hash
    assert printed["entry_at"] == third.at.isoformat()
    assert printed["taken_at"] == clock.now().isoformat() == "2024-03-04T02:00:00+00:00"
    assert len(printed["signature"]) == 64
    assert "written to" in result.stderr
    clock.advance(minutes=5)
    _audit_some(2)
    result = run_cli("audit", "verify", "--against", str(path))
    assert result.exit_code == 0, result.output
    assert "5 entries" in result.output and "extends the checkpoint of entry 3" in result.output


def test_an_empty_trail_has_the_checkpoint_of_entry_0(app, run_cli, tmp_path):
    path = _checkpoint(run_cli, tmp_path)
    saved = json.loads(path.read_text())
    assert (saved["seq"], saved["hash"], saved["entry_at"]) == (0, GENESIS, None)
    _audit_some(1)
    result = run_cli("audit", "verify", "--against", str(path))
    assert result.exit_code == 0 and "checkpoint of entry 0" in result.output


def test_a_rewrite_with_the_key_before_a_checkpoint_is_caught_by_it(app, run_cli, tmp_path):
    _audit_some(3)
    path = _checkpoint(run_cli, tmp_path)
    _audit_some(2)
    _rewrite_from(2, content_hash)  # someone who has the key recomputes every HMAC
    assert verify_chain().ok
    assert run_cli("audit", "verify").exit_code == 0
    result = run_cli("audit", "verify", "--against", str(path))
    assert result.exit_code == 1
    assert "no longer extends the checkpoint of entry 3" in result.output
    assert "rewritten" in result.output


def test_a_trail_cut_below_its_checkpoint_is_caught(app, run_cli, tmp_path):
    _audit_some(5)
    path = _checkpoint(run_cli, tmp_path)
    third = db.session.scalar(sa.select(AuditEntry.hash).where(AuditEntry.seq == 3))
    _tamper(
        "DELETE FROM audit_entry WHERE seq > 3",
        f"UPDATE audit_head SET seq = 3, hash = '{third}'",
    )
    assert run_cli("audit", "verify").exit_code == 0
    result = run_cli("audit", "verify", "--against", str(path))
    assert result.exit_code == 1
    assert "no longer extends the checkpoint of entry 5" in result.output
    assert "entry 5 is missing" in result.output


@pytest.mark.parametrize(
    "change", [{"hash": "f" * 64}, {"seq": 2}, {"entry_at": "2024-01-01T00:00:00+00:00"}]
)
def test_an_altered_checkpoint_is_refused(app, run_cli, tmp_path, change):
    _audit_some(3)
    path = _checkpoint(run_cli, tmp_path)
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    result = run_cli("audit", "verify", "--against", str(path))
    assert result.exit_code == 2
    assert "signature does not match" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "content",
    [b"not json", b"\xff\xfe\x00", b"[]", b'{"seq": 1}', b"[" * 100_000, b" " * 70_000, None],
    ids=["text", "binary", "list", "fields", "deep", "huge", "missing"],
)
def test_a_malformed_checkpoint_file_gets_a_clear_message(app, run_cli, tmp_path, content):
    _audit_some(1)
    path = tmp_path / "checkpoint.json"
    if content is not None:
        path.write_bytes(content)
    result = run_cli("audit", "verify", "--against", str(path))
    assert result.exit_code == 2, result.output
    expected = "Cannot read the checkpoint" if content is None else "is not a usable checkpoint"
    assert expected in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output


def test_a_broken_trail_gets_no_checkpoint(app, run_cli, tmp_path):
    _audit_some(4)
    _tamper("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3")
    path = tmp_path / "checkpoint.json"
    result = run_cli("audit", "checkpoint", "--output", str(path))
    assert result.exit_code == 1 and "broken at entry 3" in result.output
    assert result.stdout == "" and not path.exists()


# --- Migration 0013: the old chain is verified, then keyed --------------------------------


def test_migration_0013_rechains_an_intact_trail_and_stops_at_a_broken_one(app, run_cli):
    from flask_migrate import downgrade, upgrade

    _audit_some(3)
    keyed = _hashes()
    db.session.remove()
    try:
        downgrade(revision="0012")  # re-chains with the old SHA-256
        rows = db.session.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.seq))
        rows = rows.mappings().all()
        assert [_plain_sha256(row) for row in rows] == [row["hash"] for row in rows]
        assert [row["prev_hash"] for row in rows] == [GENESIS, *[row["hash"] for row in rows][:2]]
        db.session.remove()
        upgrade()
        assert _hashes() == keyed and verify_chain().ok
        db.session.remove()

        downgrade(revision="0012")
        _tamper("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2")
        old = _hashes()
        db.session.remove()
        result = run_cli("db", "upgrade")
        assert result.exit_code == 1
        assert "broken at entry 2" in result.output and "Traceback" not in result.output
        assert _hashes() == old
        version = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        assert version == "0012"
    finally:
        db.session.remove()
        _tamper(
            "DELETE FROM audit_entry", "UPDATE audit_head SET seq = 0, hash = '" + GENESIS + "'"
        )
        upgrade()
    assert verify_chain().ok


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


# --- Sealing: entries are written unsealed (no hot row) and chained right after commit -----


@pytest.fixture
def no_sealing_after_commit(app, monkeypatch):
    """Commits leave their entries unsealed, as when a process dies right after its commit."""
    monkeypatch.setitem(app.config, "AUDIT_SEALING", "off")


def _unsealed() -> list[AuditEntry]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id)
        )
    )


def test_each_commit_seals_its_entries_right_after(app):
    record("test.event", "test", 1)
    record("test.event", "test", 2)
    db.session.commit()
    assert _unsealed() == []
    rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(r.seq, r.object_id) for r in rows] == [(1, "1"), (2, "2")]
    head = db.session.get(AuditHead, 1)
    assert (head.seq, head.hash) == (2, rows[1].hash)


def test_a_crash_before_sealing_delays_the_entries_and_never_drops_them(
    app, run_cli, tmp_path, no_sealing_after_commit
):
    _audit_some(2)
    app.config["AUDIT_SEALING"] = "inline"
    _audit_some(1)  # a later commit seals the two left before it, then its own, in order
    app.config["AUDIT_SEALING"] = "off"
    _audit_some(2)
    assert [r.object_id for r in _unsealed()] == ["0", "1"]
    rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(r.seq, r.object_id) for r in rows if r.seq] == [(1, "0"), (2, "1"), (3, "0")]

    report = verify_chain()
    assert (report.ok, report.checked, report.unsealed) == (True, 3, 2)
    result = run_cli("audit", "verify")
    assert result.exit_code == 0
    assert "3 entries" in result.output and "2 newer entries are not sealed" in result.output
    path = _checkpoint(run_cli, tmp_path)
    assert json.loads(path.read_text())["seq"] == 3  # the sealed head

    result = run_cli("audit", "seal")
    assert result.exit_code == 0 and "Sealed 2 audit entries" in result.output
    assert _unsealed() == []
    report = verify_chain()
    assert (report.ok, report.checked, report.unsealed) == (True, 5, 0)
    assert "not sealed" not in run_cli("audit", "verify").output
    assert run_cli("audit", "verify", "--against", str(path)).exit_code == 0


def test_the_sealer_is_idempotent(app, no_sealing_after_commit):
    _audit_some(3)
    assert seal() == 3
    hashes = _hashes()
    head = db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one()
    assert seal() == 0 and seal() == 0
    db.session.expire_all()
    assert _hashes() == hashes
    assert db.session.execute(sa.select(AuditHead.seq, AuditHead.hash)).one() == head
    assert verify_chain().ok and verify_chain().checked == 3


def test_a_sealer_that_fails_halfway_seals_nothing_and_the_next_one_seals_all(
    app, monkeypatch, no_sealing_after_commit
):
    _audit_some(4)
    calls = []

    def failing_hash(entry, key=None):
        calls.append(entry["seq"])
        if len(calls) == 3:
            raise RuntimeError("the sealer's process dies here")
        return content_hash(entry, key)

    monkeypatch.setattr(audit, "content_hash", failing_hash)
    with pytest.raises(RuntimeError, match="dies here"):
        seal()
    monkeypatch.undo()
    assert len(_unsealed()) == 4 and verify_chain().checked == 0
    assert seal() == 4
    report = verify_chain()
    assert (report.ok, report.checked, report.unsealed) == (True, 4, 0)


def test_the_audit_seal_job_seals_what_a_crashed_process_left(
    app, run_cli, no_sealing_after_commit
):
    _audit_some(2)
    result = run_cli("jobs", "--once")
    assert result.exit_code == 0, result.output
    assert _unsealed() == []
    entries = db.session.scalar(sa.select(sa.func.count(AuditEntry.id)))
    assert entries >= 2  # ours, and what the other jobs audited (the digest)
    assert f"audit_seal: ok sealed={entries}" in result.output
    assert verify_chain().checked == entries


def test_the_database_allows_only_the_sealing_of_an_unsealed_entry(app, no_sealing_after_commit):
    """Set once, on a row that has none of the three seal columns, nothing else changed."""
    _audit_some(2)
    first, second = (r.id for r in _unsealed())
    forbidden = [
        f"UPDATE audit_entry SET actor = 'x' WHERE id = {first}",  # content of an unsealed row
        f"UPDATE audit_entry SET seq = 7, prev_hash = 'a', hash = 'b', actor = 'x' "
        f"WHERE id = {first}",  # sealing that changes the content too
        f"UPDATE audit_entry SET seq = 7 WHERE id = {first}",  # half a seal
        f"DELETE FROM audit_entry WHERE id = {first}",  # an unsealed row
    ]
    for statement in forbidden:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    with db.engine.begin() as conn:  # the sealing itself (what seal() does)
        conn.execute(
            sa.text(
                f"UPDATE audit_entry SET seq = 9, prev_hash = 'a', hash = 'b' WHERE id = {first}"
            )
        )
    for statement in [
        f"UPDATE audit_entry SET seq = 10, prev_hash = 'c', hash = 'd' WHERE id = {first}",
        f"UPDATE audit_entry SET hash = 'e' WHERE id = {first}",
    ]:  # a sealed row is never sealed again
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert [r.id for r in _unsealed()] == [second]
    # A forged seal (without the key) breaks the chain where it stands.
    assert verify_chain().broken_seq == 1


def test_an_edit_of_a_sealed_entry_is_detected_after_sealing_in_batches(
    app, run_cli, no_sealing_after_commit
):
    _audit_some(3)
    seal()
    _audit_some(3)
    seal()
    assert verify_chain().checked == 6
    _tamper('UPDATE audit_entry SET "after" = \'{"n": 99}\' WHERE seq = 5')
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 5, 4)
    result = run_cli("audit", "verify")
    assert result.exit_code == 1 and "entry 5" in result.output


@pytest.mark.postgres_only(reason="SQLite has one writer: a second one waits for the first")
def test_an_entry_committed_after_a_sealing_began_is_chained_after_it_never_skipped(app):
    """Entry ids are drawn at insert; an earlier id that commits late is sealed later."""
    table = AuditEntry.__table__
    row = {"at": clock.now(), "actor": "test", "action": "test.event", "object_type": "test"}
    slow = db.engine.connect()
    try:
        slow_tx = slow.begin()
        slow.execute(sa.insert(table).values(**row, object_id="slow"))  # id drawn, not committed
        _audit_some(1)  # a later id, committed and sealed at once
        assert seal() == 0
        slow_tx.commit()
    finally:
        slow.close()
    assert [r.object_id for r in _unsealed()] == ["slow"]
    assert seal() == 1
    rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [r.object_id for r in rows] == ["0", "slow"]
    assert rows[1].id < rows[0].id  # drawn first, committed (and so chained) second
    assert verify_chain().ok and verify_chain().checked == 2


def _wait_until_sealed(seconds: float = 20.0) -> None:
    """Poll (briefly) until the sealer thread has chained every entry."""
    deadline = time.monotonic() + seconds
    while _unsealed():
        assert time.monotonic() < deadline, "the sealer thread left entries unsealed"
        time.sleep(0.05)


@pytest.fixture
def background_sealing(app, monkeypatch):
    """Commits wake this process's sealer thread; the thread is stopped after the test (it
    would otherwise seal, a moment later, the entries of the next test on the same database)."""
    monkeypatch.setitem(app.config, "AUDIT_SEALING", "background")
    yield
    _BackgroundSealer.stop_all()


def test_a_sealer_thread_seals_soon_after_commit(app, background_sealing):
    """PostgreSQL's default: the commit only wakes this process's sealer thread."""
    _audit_some(5)
    _wait_until_sealed()
    report = verify_chain()
    assert (report.ok, report.checked, report.unsealed) == (True, 5, 0)
    rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [r.object_id for r in rows] == ["0", "1", "2", "3", "4"]


def test_a_stopped_sealer_thread_seals_nothing_more(app, background_sealing, monkeypatch):
    """A sealer woken just before it is stopped ends without another sealing, so what a later
    test (sharing the database) commits with sealing off stays unsealed."""
    _audit_some(1)
    _wait_until_sealed()
    sealer = _BackgroundSealer.of(app, db.engine)
    sealer.poke()  # a wake still pending, as after a burst of commits
    _BackgroundSealer.stop_all()
    assert not sealer.thread.is_alive()
    monkeypatch.setitem(app.config, "AUDIT_SEALING", "off")
    _audit_some(2)
    assert [r.object_id for r in _unsealed()] == ["0", "1"]


def test_at_exit_an_idle_sealer_thread_does_not_touch_the_database(
    app, background_sealing, monkeypatch
):
    """At exit the process seals in the foreground only what its thread was woken for and has
    not sealed yet: an idle thread's process exits without a connection (its database may
    be gone by then, as after a benchmark that drops it)."""
    _audit_some(2)
    _wait_until_sealed()
    sealer = _BackgroundSealer.of(app, db.engine)
    deadline = time.monotonic() + 20
    while sealer.busy or sealer.wake.is_set():  # a sealing still running or still due
        assert time.monotonic() < deadline
        time.sleep(0.01)
    calls = []
    monkeypatch.setattr(audit, "seal", lambda engine=None: calls.append(engine))
    sealer.flush()
    assert calls == []
    sealer.wake.set()  # woken, not sealed yet: the exit seals
    sealer.flush()
    assert calls == [sealer.engine]


def test_a_bad_sealing_mode_is_refused_when_the_app_starts(app, database_url, instance_path):
    from tests.conftest import make_app

    with pytest.raises(RuntimeError, match="CITYDESK_AUDIT_SEALING must be one of inline"):
        make_app(database_url, instance_path, AUDIT_SEALING="sometimes")


@pytest.mark.postgres_only(reason="concurrent writers: SQLite has one writer at a time")
@pytest.mark.parametrize("sealing", ["inline", "background"])
def test_concurrent_writers_on_postgresql_make_one_chain_in_commit_order(
    app, run_cli, monkeypatch, request, sealing
):
    """8 writers commit at once; every entry is chained, and an entry written after another
    one's commit had returned always comes after it in the chain."""
    monkeypatch.setitem(app.config, "AUDIT_SEALING", sealing)
    request.addfinalizer(_BackgroundSealer.stop_all)
    writers, commits = 8, 25
    times: dict[str, tuple[float, float]] = {}
    errors = []
    start = threading.Barrier(writers)

    def write(writer: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for i in range(commits):
                    name = f"{writer}-{i}"
                    began = time.monotonic()
                    record("test.concurrent", "test", name)
                    db.session.commit()
                    times[name] = (began, time.monotonic())
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    if sealing == "background":
        _wait_until_sealed()
    seal()  # whatever a sealer that was busy left to the job (normally nothing)
    report = verify_chain()
    assert (report.ok, report.checked, report.unsealed) == (True, writers * commits, 0)
    assert run_cli("audit", "verify").exit_code == 0
    position = dict(
        db.session.execute(
            sa.select(AuditEntry.object_id, AuditEntry.seq).where(
                AuditEntry.action == "test.concurrent"
            )
        ).all()
    )
    assert len(position) == writers * commits
    for earlier, (_, committed) in times.items():
        for later, (began, _) in times.items():
            if committed < began:
                assert position[earlier] < position[later], (earlier, later)
    for writer in range(writers):  # each writer's own commits, in its order
        mine = [position[f"{writer}-{i}"] for i in range(commits)]
        assert mine == sorted(mine)


def test_an_edited_row_with_its_own_hash_recomputed_breaks_the_next_link(app, run_cli):
    """The link rule: each entry's prev_hash is the previous entry's hash. An edit whose own
    hash is recomputed with the key (the content check passes) leaves the next link broken."""
    _audit_some(5)
    table = AuditEntry.__table__
    with db.engine.begin() as conn, append_only_lifted(conn):
        conn.execute(sa.update(table).where(table.c.seq == 3).values(actor="mallory"))
        row = conn.execute(sa.select(table).where(table.c.seq == 3)).mappings().one()
        forged = content_hash(dict(row), TEST_AUDIT_KEY.encode())
        conn.execute(sa.update(table).where(table.c.seq == 3).values(hash=forged))
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.checked) == (False, 4, 3)
    assert report.reason == "previous-hash link does not match"
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert "entry 4" in result.output and "previous-hash link does not match" in result.output


@pytest.mark.parametrize("column", ["before", "after"])
def test_a_changed_before_or_after_is_reported_by_audit_verify(column, app, run_cli):
    """What changed (`before`, `after`) is part of each entry's hashed content."""
    _audit_some(4)
    _tamper(f"""UPDATE audit_entry SET "{column}" = '{{"n": 99}}' WHERE seq = 2""")
    assert db.session.scalar(sa.select(getattr(AuditEntry, column)).where(AuditEntry.seq == 2)) == {
        "n": 99
    }
    report = verify_chain()
    assert (report.ok, report.broken_seq, report.reason) == (
        False,
        2,
        "content does not match its hash",
    )
    result = run_cli("audit", "verify")
    assert result.exit_code == 1 and "entry 2" in result.output


def test_the_chain_is_walked_in_seq_order_whatever_the_storage_order(app):
    """Entries are checked in `seq` order, in batches: an entry stored again after later ones
    (so that the table returns it last) still verifies, and so does a walk in tiny batches."""
    _audit_some(5)
    table = AuditEntry.__table__
    with db.engine.begin() as conn, append_only_lifted(conn):
        row = dict(conn.execute(sa.select(table).where(table.c.seq == 2)).mappings().one())
        conn.execute(sa.delete(table).where(table.c.seq == 2))
        row["id"] = 1000
        conn.execute(sa.insert(table).values(**row))
    report = verify_chain()
    assert (report.ok, report.checked) == (True, 5)
    assert verify_chain(batch=2).checked == 5


@pytest.mark.parametrize(
    ("tamper", "broken", "reason"),
    [
        ("DELETE FROM audit_entry WHERE seq = 2", 2, "entry 2 is missing"),
        ("UPDATE audit_entry SET prev_hash = hash WHERE seq = 3", 3, "previous-hash link"),
        ("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 2", 2, "content does not match"),
        ("DELETE FROM audit_entry WHERE seq = 4", 4, "entries after the last one are missing"),
    ],
)
def test_a_broken_chain_still_counts_the_entries_not_sealed_yet(
    tamper, broken, reason, app, no_sealing_after_commit
):
    """Whatever breaks the chain, verify's report still says how many newer entries no hash
    protects yet (they are not trusted either): the supervisor sees both facts at once."""
    _audit_some(4)
    assert seal() == 4
    _audit_some(2)  # committed, not sealed
    _tamper(tamper)
    report = verify_chain()
    assert (report.ok, report.broken_seq) == (False, broken)
    assert report.reason.startswith(reason)
    assert report.unsealed == 2
