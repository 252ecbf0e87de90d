"""The audit trail (內部控制): an append-only record of every state change and sign-in.

The web layer (or a job, or the CLI) says who is acting with `acting_as()`; operations call
`record()` and never pass the actor themselves. No code path updates or deletes audit rows
(on PostgreSQL a trigger refuses it).

Tamper evidence: rows form a hash chain. `record()` only queues the entry on the session; at
commit the queued entries are numbered (`seq`) and chained (`prev_hash` → `hash`) under a lock on
the one-row `audit_head` table, taken last in the transaction so that it cannot deadlock with the
row locks of the operation. `verify_chain()` finds the first broken link.
"""

import contextvars
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.core import clock, db

GENESIS = "0" * 64
_PENDING = "citydesk_audit_pending"


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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)  # position in the hash chain
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(db.Model):
    """The chain's head: the last sequence number and hash (one row, id 1)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))


def ensure_chain_head(connection: Connection) -> None:
    """Create the head row of an empty chain if it is missing."""
    if connection.execute(select(AuditHead.id)).first() is None:
        connection.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))


def content_hash(entry: dict) -> str:
    """SHA-256 over the canonical JSON of an entry's content and the previous hash."""
    fields = {
        "seq": entry["seq"],
        "at": entry["at"].isoformat(),
        "user_id": entry["user_id"],
        "actor": entry["actor"],
        "action": entry["action"],
        "object_type": entry["object_type"],
        "object_id": entry["object_id"],
        "before": entry["before"],
        "after": entry["after"],
        "ip": entry["ip"],
        "prev_hash": entry["prev_hash"],
    }
    canonical = json.dumps(
        fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


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
    connection = session.connection()
    # Lock the head row last in the transaction: entries are chained in commit order.
    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq))
    head = connection.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev = head.seq, head.hash
    rows = []
    for entry in pending:
        seq += 1
        row = {**entry, "seq": seq, "prev_hash": prev}
        row["hash"] = prev = content_hash(row)
        rows.append(row)
    connection.execute(insert(AuditEntry), rows)
    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


@event.listens_for(Session, "after_transaction_end")
def _drop_pending_entries(session: Session, transaction) -> None:
    # A transaction that ends without commit (rollback) takes its entries with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def pending_entries() -> list[dict]:
    """Entries recorded in this transaction and not yet committed (for tests and views)."""
    return list(db.session.info.get(_PENDING, []))


@dataclass
class ChainReport:
    """The result of verifying the chain."""

    checked: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


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


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the chain in order; report the first row whose link or content does not match."""
    table = AuditEntry.__table__
    columns = [table.c[name] for name in CHAINED_FIELDS] + [table.c.hash]
    prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = db.session.execute(
            select(*columns).where(table.c.seq >= expected_seq).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return ChainReport(checked, expected_seq, f"entry {expected_seq} is missing")
            if row.prev_hash != prev:
                return ChainReport(checked, row.seq, "previous-hash link does not match")
            if content_hash(row._asdict()) != row.hash:
                return ChainReport(checked, row.seq, "content does not match its hash")
            prev, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
    head = db.session.execute(select(AuditHead.seq, AuditHead.hash)).first()
    if head is not None and (head.seq, head.hash) != (checked, prev):
        return ChainReport(checked, checked + 1, "entries after the last one are missing")
    return ChainReport(checked)


def search(
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """A select() of audit rows matching the filters, newest first."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt
