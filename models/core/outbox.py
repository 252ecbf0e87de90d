"""The notification outbox: notices written in the same transaction as the change that
causes them, delivered later by the relay (jobs/). A crash delays a notice, never loses it;
the unique key (event, channel, recipient) means nothing is sent twice.
"""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models.core import clock, db
from models.core.sql import insert_ignore_many


class Channel(enum.StrEnum):
    """How a notice travels."""

    IN_APP = "in_app"  # the recipient user's notification list, inbox and board
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryState(enum.StrEnum):
    """Where a notice stands."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by a relay (lease until next_attempt_at)
    SENT = "sent"
    DEAD = "dead"  # every attempt failed; an admin may retry it


class Notification(db.Model):
    """One notice to one recipient over one channel for one event."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_key", "channel", "recipient", name="uq_notification_event"),
        Index("ix_notification_due", "state", "next_attempt_at"),
        Index("ix_notification_user_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What happened, unique per occurrence: e.g. "dispatch:42:notified", "dispatch:42:breach".
    event_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(60))  # e.g. "dispatch.notified"
    channel: Mapped[str] = mapped_column(String(20))
    # "user:<id>" for in-app, an e-mail address, or a webhook URL.
    recipient: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch.id"))
    defect_id: Mapped[int | None] = mapped_column(ForeignKey("defect.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]


def enqueue(
    event_key: str,
    kind: str,
    channel: Channel,
    recipient: str,
    payload: dict[str, Any],
    *,
    user_id: int | None = None,
    dispatch_id: int | None = None,
    defect_id: int | None = None,
) -> Notification | None:
    """Add a notice to the outbox unless the same one (event, channel, recipient) exists."""
    exists = db.session.scalar(
        select(Notification.id).where(
            Notification.event_key == event_key,
            Notification.channel == channel.value,
            Notification.recipient == recipient,
        )
    )
    if exists:
        return None
    at = clock.now()
    notice = Notification(
        event_key=event_key,
        kind=kind,
        channel=channel.value,
        recipient=recipient,
        user_id=user_id,
        dispatch_id=dispatch_id,
        defect_id=defect_id,
        payload=payload,
        state=DeliveryState.PENDING.value,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    db.session.add(notice)
    db.session.flush()
    return notice


def enqueue_many(rows: list[dict], *, at: datetime) -> list[int | None]:
    """Add many notices at once (rows of event_key, kind, channel, recipient, payload, user_id,
    dispatch_id), each unless the same one (event, channel, recipient) exists: one statement per
    few hundred rows. In-app notices are written delivered (`sent`, one attempt): the recipient
    sees them as soon as the transaction commits, without a relay pass; e-mail and webhook
    notices wait for the relay as `enqueue()`'s do. Returns the dispatch id of each row
    written."""
    values = []
    for row in rows:
        in_app = row["channel"] == Channel.IN_APP
        values.append(
            {
                "event_key": row["event_key"],
                "kind": row["kind"],
                "channel": str(row["channel"]),
                "recipient": row["recipient"],
                "user_id": row.get("user_id"),
                "dispatch_id": row.get("dispatch_id"),
                "defect_id": row.get("defect_id"),
                "payload": row["payload"],
                "state": (DeliveryState.SENT if in_app else DeliveryState.PENDING).value,
                "attempts": 1 if in_app else 0,
                "next_attempt_at": at,
                "created_at": at,
                "sent_at": at if in_app else None,
            }
        )
    written = insert_ignore_many(
        Notification,
        values,
        ["event_key", "channel", "recipient"],
        [Notification.dispatch_id],
    )
    return [row[0] for row in written]


def release_claims(at: datetime) -> int:
    """Make every claimed notice due at `at` (its relay's scheduler died); how many."""
    # State and attempts stay: the next claim counts an attempt, so an old claimer that is
    # somehow still alive can no longer record an outcome (the relay's `_finish`).
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.state == DeliveryState.SENDING.value,
            Notification.next_attempt_at > at,
        )
        .values(next_attempt_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
