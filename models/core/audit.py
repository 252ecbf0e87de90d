"""The audit trail (內部控制): an append-only record of every state change and sign-in.

The web layer (or a job, or the CLI) says who is acting with `acting_as()`; operations call
`record()` and never pass the actor themselves. No code path updates or deletes audit rows
(a trigger refuses it, on PostgreSQL and on SQLite; a migration that rebuilds `audit_entry` on
SQLite must create the triggers of migration 0013 again).

Tamper evidence: rows form a chain keyed with a secret. `record()` only queues the entry on the
session; at commit the queued entries are inserted, unsealed (no `seq`, `prev_hash`, `hash`), so
that concurrent writers never wait for one another. Right after the commit a sealer (`seal()`)
takes the lock on the one-row `audit_head` table briefly and numbers and chains (`prev_hash` →
`hash`, an HMAC-SHA256 under `AUDIT_KEY`, which is not in the database) every committed unsealed
entry, in one batch; the `audit_seal` job does the same for whatever a crashed process left.

The order: each sealing takes the entries it can see in the order of their `id`. An entry's `id`
is drawn when its transaction inserts it at commit, after every read of that transaction, so an
entry written after another transaction had committed (and could be seen) always has a larger
`id` than that transaction's entries, and it cannot be visible to a sealer that does not also
see them: the chain never puts an entry before one whose effects its writer had seen. An entry
whose transaction commits after a sealing has begun (even with a smaller `id`) is not skipped:
it stays unsealed until the next sealing and is chained after the entries sealed before it, as
it committed after them. A crash before sealing delays the sealing; it never drops an entry.

The append-only guard (a trigger on PostgreSQL and on SQLite) refuses every UPDATE and DELETE
except the sealing: setting the three seal columns once on a row that has none, nothing else.
`verify_chain()` finds the first broken link of the sealed entries and counts the unsealed ones:
someone who can write to the database but lacks the key cannot recompute the hashes after an
edit. A checkpoint (the sealed head's seq, hash and time, signed) kept outside the database
shows whether the trail still extends it, which catches even a rewrite made with the key
(`models.core.audit_checkpoint`).
"""

import atexit
import contextvars
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    bindparam,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.core import clock, db

GENESIS = "0" * 64
_PENDING = "citydesk_audit_pending"
_WRITTEN = "citydesk_audit_written"  # this transaction inserted entries: seal after its commit
SEAL_BATCH = 2000  # entries hashed and updated per statement
SEAL_ROUNDS = 3  # sealings in a row after one commit while other commits keep coming
SEAL_PAUSE = 0.25  # seconds between two sealings of a process's sealer thread
log = logging.getLogger("citydesk.audit")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (id and name) or a named system process, and from where."""

    user_id: int | None
    name: str
    ip: str | None = None


SYSTEM = Actor(None, "system")  # nobody signed in
CLI = Actor(None, "cli")  # a `citydesk` command
JOBS = Actor(None, "jobs")  # a time-driven job
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("citydesk_actor", default=SYSTEM)


def current_actor() -> Actor:
    """The actor set for this context (the system when nobody is signed in)."""
    return _actor.get()


def set_actor(actor: Actor) -> contextvars.Token:
    """Set the actor for the rest of this context (a request, a job run)."""
    return _actor.set(actor)


def reset_actor(token: contextvars.Token) -> None:
    """Undo a `set_actor()` (at the end of a request)."""
    _actor.reset(token)


@contextmanager
def acting_as(actor: Actor):
    """Run a block as `actor`."""
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


class AuditEntry(db.Model):
    """One audited event: who, when (UTC), what object, which action, before and after."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_at", "at"),
        Index(
            "ix_audit_entry_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Position in the hash chain; None until sealed (see `seal()`), then never changed.
    seq: Mapped[int | None] = mapped_column(unique=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditHead(db.Model):
    """The sealed chain's head: the last sequence number and hash (one row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


def ensure_chain_head(connection: Connection) -> None:
    """Create the head row of an empty chain if it is missing."""
    if connection.execute(select(AuditHead.id)).first() is None:
        connection.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))


CHAINED_FIELDS = (
    "seq",
    "at",
    "user_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "before",
    "after",
    "ip",
    "prev_hash",
)


def audit_key() -> bytes:
    """The key of the chain's HMAC (`AUDIT_KEY`: configured, else the instance's audit_key)."""
    key = current_app.config.get("AUDIT_KEY")
    if not key:
        raise RuntimeError("AUDIT_KEY is not set: create the app with webapp.create_app()")
    return str(key).encode()


def canonical_json(fields: dict) -> bytes:
    """The one serialisation that is hashed and signed: sorted keys, no spaces, UTF-8."""
    text = json.dumps(
        fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return text.encode()


def content_hash(entry: dict, key: bytes | None = None) -> str:
    """HMAC-SHA256 (under the audit key) of an entry's content and the previous hash."""
    fields = {name: entry[name] for name in CHAINED_FIELDS}
    fields["at"] = entry["at"].isoformat()
    return hmac.new(key or audit_key(), canonical_json(fields), hashlib.sha256).hexdigest()


def record(
    action: str,
    object_type: str,
    object_id: object = None,
    before: dict | None = None,
    after: dict | None = None,
    *,
    actor: Actor | None = None,
) -> None:
    """Append an audit row to the current transaction (written and chained at commit)."""
    who = actor or current_actor()
    entry = {
        "at": clock.now(),
        "user_id": who.user_id,
        "actor": who.name[:120],
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id)[:80],
        "before": _plain(before),
        "after": _plain(after),
        "ip": who.ip,
    }
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback is seen and drops the entry
    session.info.setdefault(_PENDING, []).append(entry)


def _plain(values: dict | None) -> dict | None:
    """JSON-safe copy (dates and decimals as text) so the stored value is what was hashed."""
    if values is None:
        return None
    return json.loads(json.dumps(values, ensure_ascii=False, default=str))


@event.listens_for(Session, "before_commit")
def _write_pending_entries(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    # Inserted last in the transaction, unsealed: no lock shared with other writers (the id
    # drawn here, after the transaction's reads, orders the entries: see the module's text).
    session.connection().execute(insert(AuditEntry), pending)
    session.info[_WRITTEN] = True


SEALING_MODES = ("inline", "background", "off")


def sealing_mode(app=None) -> str:
    """How commits seal their entries (`AUDIT_SEALING`): `inline` in the committing thread
    right after its commit (the default on SQLite: one writer anyway), `background` by this
    process's sealer thread, woken by the commit (the default on PostgreSQL: the commit returns
    at once and one sealing chains what many commits wrote), or `off` (the `audit_seal` job
    only)."""
    app = app or current_app
    mode = app.config.get("AUDIT_SEALING")
    if mode not in SEALING_MODES:  # unset (create_app() refuses other values)
        mode = "inline" if db.engine.dialect.name == "sqlite" else "background"
    return mode


@event.listens_for(Session, "after_commit")
def _seal_after_commit(session: Session) -> None:
    if not session.info.pop(_WRITTEN, False):
        return
    mode = sealing_mode()
    if mode == "off":
        return
    if mode == "background":
        _BackgroundSealer.of(current_app._get_current_object(), session.get_bind()).poke()
        return
    try:
        seal_soon(session.get_bind())
    except Exception as exc:  # committed: the entries wait for the next sealing or the job
        log.warning("audit entries left unsealed after commit: %s", exc)


class _BackgroundSealer:
    """This process's sealer thread for one application and engine: a commit wakes it (no
    database work in the committing thread); it seals until nothing is left, so one sealing
    chains what many commits wrote meanwhile. Started on first use in each process (after a
    fork too); at exit the process seals once more in the foreground."""

    _sealers: dict[tuple[int, int, int], "_BackgroundSealer"] = {}
    _lock = threading.Lock()

    def __init__(self, app, engine: Engine):
        self.app, self.engine = app, engine
        self.wake = threading.Event()
        self.stopping = False
        self.busy = False  # sealing now, or its last sealing failed
        self.thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
        self.thread.start()
        atexit.register(self.flush)

    @classmethod
    def of(cls, app, engine: Engine) -> "_BackgroundSealer":
        """The sealer of `app` and `engine` in this process (started when missing)."""
        key = (os.getpid(), id(app), id(engine))
        with cls._lock:
            sealer = cls._sealers.get(key)
            if sealer is None or not sealer.thread.is_alive():
                sealer = cls._sealers[key] = cls(app, engine)
        return sealer

    def poke(self) -> None:
        """Seal soon (what was committed before this call)."""
        self.wake.set()

    @classmethod
    def stop_all(cls) -> None:
        """Stop this process's sealer threads once each is between two sealings (a sealer must
        not outlive its database, as in tests that share one application)."""
        with cls._lock:
            sealers, cls._sealers = list(cls._sealers.values()), {}
        for sealer in sealers:
            sealer.stopping = True
            sealer.wake.set()
            sealer.thread.join()
            atexit.unregister(sealer.flush)

    def _run(self) -> None:
        while True:
            self.wake.wait()
            self.busy = True  # before the wake is cleared: `flush` sees one or the other
            self.wake.clear()
            if self.stopping:
                return
            try:
                with self.app.app_context():
                    seal_soon(self.engine)
                self.busy = False
            except Exception as exc:  # the next commit or the job seals them
                log.warning("audit entries left unsealed by the sealer thread: %s", exc)
                time.sleep(1.0)
            # The commits of the next moment wait for one sealing together (a busy worker
            # seals a batch every SEAL_PAUSE seconds, not once per commit).
            time.sleep(SEAL_PAUSE)

    def flush(self) -> None:
        """Seal in the foreground (at exit: nothing waits for the daemon thread), unless the
        thread is idle: it has sealed everything it was woken for (the database may be gone)."""
        if not self.wake.is_set() and not self.busy:
            return
        try:
            with self.app.app_context():
                seal(self.engine)
        except Exception as exc:  # the job or another process seals them
            log.warning("audit entries left unsealed at exit: %s", exc)


@event.listens_for(Session, "after_transaction_end")
def _drop_pending_entries(session: Session, transaction) -> None:
    # A transaction that ends without commit (rollback) takes its entries with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_WRITTEN, None)  # after a commit, after_commit has sealed already


def _lock_head(conn: Connection, *, wait: bool) -> tuple[int, str] | None:
    """Lock the head row for this transaction; its (seq, hash), or None when another sealer
    holds it and `wait` is False (PostgreSQL; SQLite has one writer and always waits)."""
    stmt = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
    if conn.dialect.name == "sqlite":
        # The write lock of the database, taken before reading (busy timeout: waits).
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
        row = conn.execute(stmt).first()
    else:
        row = conn.execute(stmt.with_for_update(skip_locked=not wait)).first()
        if row is None and not wait:
            exists = conn.execute(select(AuditHead.id).where(AuditHead.id == 1)).first()
            if exists is not None:
                return None  # locked by another sealer
    if row is None:
        ensure_chain_head(conn)
        return 0, GENESIS
    return row.seq, row.hash


_SEAL_UPDATE = (
    update(AuditEntry.__table__)
    .where(AuditEntry.__table__.c.id == bindparam("row_id"))
    .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"))
)


def seal(engine: Engine | None = None, *, wait: bool = True, batch: int = SEAL_BATCH) -> int | None:
    """Chain every committed unsealed entry, in order, under the head lock, in a transaction of
    its own; how many were sealed (None: another sealer holds the lock and `wait` is False)."""
    with _sealing_connection(engine) as conn, conn.begin():
        return _seal_in(conn, wait=wait, batch=batch)


@contextmanager
def _sealing_connection(engine: Engine | None):
    with (engine or db.engine).connect() as conn:
        if conn.dialect.name != "sqlite":  # each statement its own snapshot (see _seal_in)
            conn.execution_options(isolation_level="READ COMMITTED")
        yield conn


def _seal_in(conn: Connection, *, wait: bool, batch: int) -> int | None:
    table = AuditEntry.__table__
    content = [table.c[name] for name in CHAINED_FIELDS if name not in ("seq", "prev_hash")]
    key = audit_key()
    total = 0
    head = _lock_head(conn, wait=wait)
    if head is None:
        return None
    seq, prev = head
    while True:
        # Read after the lock is held: a fresh snapshot that sees every entry committed
        # before it, and no other sealer runs until this transaction ends.
        rows = conn.execute(
            select(table.c.id, *content)
            .where(table.c.seq.is_(None))
            .order_by(table.c.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        updates = []
        for row in rows:
            seq += 1
            values = {**row._asdict(), "seq": seq, "prev_hash": prev}
            new_hash = content_hash(values, key)
            updates.append(
                {"row_id": row.id, "new_seq": seq, "new_prev": prev, "new_hash": new_hash}
            )
            prev = new_hash
        conn.execute(_SEAL_UPDATE, updates)
        total += len(rows)
        if len(rows) < batch:
            break
    if total:
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
        if conn.dialect.name == "postgresql":
            # The entries are durable (their writers committed them); a sealing lost in a crash
            # is done again from them, so it need not wait for its own disk flush
            # (`audit_checkpoint.make_checkpoint()` flushes before it signs a head).
            conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
    return total


def seal_soon(engine: Engine | None = None) -> int:
    """Seal after a commit without queueing behind another sealer: when one holds the lock, it
    looks again once it is done (while entries are left, up to SEAL_ROUNDS sealings), so an
    entry committed before this call is sealed by it or by that sealer (or by the job)."""
    total = 0
    with _sealing_connection(engine) as conn:
        for _ in range(SEAL_ROUNDS):
            with conn.begin():
                sealed = _seal_in(conn, wait=False, batch=SEAL_BATCH)
            if sealed is None:
                break
            total += sealed
            left = conn.execute(_ANY_UNSEALED).first()  # committed while we held the lock
            conn.rollback()
            if left is None:
                break
    return total


_ANY_UNSEALED = select(AuditEntry.id).where(AuditEntry.seq.is_(None)).limit(1)


def unsealed_count() -> int:
    """How many committed entries are not sealed yet."""
    return db.session.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) or 0


def pending_entries() -> list[dict]:
    """Entries recorded in this transaction and not yet committed (for tests and views)."""
    return list(db.session.info.get(_PENDING, []))


@dataclass
class ChainReport:
    """The result of verifying the chain (its sealed entries) and the count of unsealed ones."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""
    last_hash: str = GENESIS  # the hash of entry `checked` (of the last intact entry)
    unsealed: int = 0  # committed entries not chained yet (no hash protects them so far)

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


@contextmanager
def _snapshot():
    """A read-only connection on one snapshot of the database (entries and head agree even while
    sealers run), rolled back at the end."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # one WAL read snapshot until the rollback
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.begin()
        try:
            yield conn
        finally:
            conn.rollback()


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the sealed chain in order; report the first row whose link or content does not
    match, and how many entries are not sealed yet."""
    table = AuditEntry.__table__
    columns = [table.c[name] for name in CHAINED_FIELDS] + [table.c.hash]
    key = audit_key()
    prev, expected_seq, checked = GENESIS, 1, 0
    with _snapshot() as conn:
        unsealed = conn.scalar(select(func.count()).where(table.c.seq.is_(None))) or 0
        while True:
            rows = conn.execute(
                select(*columns)
                .where(table.c.seq >= expected_seq)
                .order_by(table.c.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                if row.seq != expected_seq:
                    return ChainReport(
                        checked, expected_seq, f"entry {expected_seq} is missing", unsealed=unsealed
                    )
                if row.prev_hash != prev:
                    return ChainReport(
                        checked, row.seq, "previous-hash link does not match", unsealed=unsealed
                    )
                if content_hash(row._asdict(), key) != row.hash:
                    return ChainReport(
                        checked, row.seq, "content does not match its hash", unsealed=unsealed
                    )
                prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
        head = conn.execute(select(AuditHead.seq, AuditHead.hash)).first()
    if head is not None and (head.seq, head.hash) != (checked, prev):
        return ChainReport(
            checked, checked + 1, "entries after the last one are missing", prev, unsealed
        )
    return ChainReport(checked, last_hash=prev, unsealed=unsealed)


def search(
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """A select() of audit rows matching the filters, newest first: `action` is one code, or a
    family when it ends with a dot ("auth."); `actor` and `user_id` together match either."""
    # Unsealed entries (the newest) first, then the chain from its head down.
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc().nulls_first(), AuditEntry.id.desc())
    if action:
        if action.endswith("."):
            stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == action)
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if actor and user_id is not None:
        stmt = stmt.where(or_(AuditEntry.actor == actor, AuditEntry.user_id == user_id))
    elif actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    elif user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == user_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt
