"""Is an agency's inbox open right now? Its polls are recorded per agency (throttled) and the
desk asks which inboxes were seen lately (the one rule: `INBOX_OPEN_SECONDS`)."""

from datetime import datetime, timedelta

from sqlalchemy import select

from models.core import clock, db
from models.dispatch.tables import InboxPresence

# An inbox counts as open when it polled within this many seconds (it polls every 2 s).
INBOX_OPEN_SECONDS = 10
# At most one write per agency in this many seconds, however many inboxes poll.
WRITE_EVERY_SECONDS = 3


def record_inbox_seen(agency_id: int, at: datetime | None = None) -> None:
    """Note that the agency's inbox polled at `at` (skipped when noted in the last few
    seconds: one upsert whose update is conditional)."""
    at = at or clock.now()
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(InboxPresence).values(agency_id=agency_id, seen_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["agency_id"],
        set_={"seen_at": stmt.excluded.seen_at},
        where=InboxPresence.seen_at <= at - timedelta(seconds=WRITE_EVERY_SECONDS),
    )
    db.session.execute(stmt)


def open_inboxes(at: datetime | None = None) -> set[int]:
    """The ids of the agencies whose inbox is open at `at`: seen within INBOX_OPEN_SECONDS."""
    at = at or clock.now()
    since = at - timedelta(seconds=INBOX_OPEN_SECONDS)
    return set(
        db.session.scalars(select(InboxPresence.agency_id).where(InboxPresence.seen_at >= since))
    )


def inbox_seen_due(seen_at: datetime | None, at: datetime | None = None) -> bool:
    """True when an inbox last noted at `seen_at` should be noted again at `at` (the same
    throttle as `record_inbox_seen`, checked before writing so a poll mostly writes nothing)."""
    at = at or clock.now()
    return seen_at is None or seen_at <= at - timedelta(seconds=WRITE_EVERY_SECONDS)
