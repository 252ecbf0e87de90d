"""The audit trail (內部控制): an append-only record of every state change and sign-in.

The web layer (or a job, or the CLI) says who is acting with `acting_as()`; operations call
`record()` and never pass the actor themselves. No code path updates or deletes audit rows.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from models import clock, db


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user (id and name) or a named system process, and from where."""

    user_id: int | None
    name: str
    ip: str | None = None


SYSTEM = Actor(None, "system")
_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar("citydesk_actor", default=SYSTEM)


def current_actor() -> Actor:
    """The actor set for this context (the system when nobody is signed in)."""
    return _actor.get()


def set_actor(actor: Actor) -> contextvars.Token:
    """Set the actor for the rest of this context (a request, a job run)."""
    return _actor.set(actor)


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
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))


def record(
    action: str,
    object_type: str,
    object_id: object = None,
    before: dict | None = None,
    after: dict | None = None,
    *,
    actor: Actor | None = None,
) -> AuditEntry:
    """Append an audit row in the current transaction."""
    who = actor or current_actor()
    entry = AuditEntry(
        at=clock.now(),
        user_id=who.user_id,
        actor=who.name,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before,
        after=after,
        ip=who.ip,
    )
    db.session.add(entry)
    return entry


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
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
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
