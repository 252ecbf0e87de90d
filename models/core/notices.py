"""Notices as people see them: links to a dispatch, a user's in-app notifications (unread
count, mark read) and the outbox as the administrator sees it (counts, dead rows, retry)."""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from models.core import audit, clock, db
from models.core.errors import Conflict, NotFound
from models.core.outbox import Channel, DeliveryState, Notification
from models.core.sql import guarded_update

# The pages a notice links to. Their blueprints own these paths: change them here only
# (test_notice_links_use_the_one_page_path checks them against the routes, and that no other
# module writes them out).
DESK_DISPATCH_PATH = "/desk/dispatches/{id}"
AGENCY_DISPATCH_PATH = "/agency/dispatches/{id}"
TICKET_PATH = "/facility/tickets/{id}"
ROUNDS_PATH = "/facility/rounds"
SCORECARD_PATH = "/agency/scorecard"
REPORT_PATH = "/reports/{year}"
ACK_PATH = "/ack/{token}"  # a personal acknowledgement link (models/dispatch/ack_links.py)


def dispatch_path(dispatch_id: int, *, agency_side: bool = False) -> str:
    """The path of a dispatch's page: the agency's view for agency staff, else the desk's."""
    return (AGENCY_DISPATCH_PATH if agency_side else DESK_DISPATCH_PATH).format(id=dispatch_id)


def ticket_path(defect_id: int) -> str:
    """The path of a repair ticket's page."""
    return TICKET_PATH.format(id=defect_id)


def scorecard_path(year: int, agency_code: str | None = None) -> str:
    """The path of an agency's scorecard for a year (the agency's own, or one by code)."""
    query = f"?year={int(year)}" + (f"&agency={agency_code}" if agency_code else "")
    return SCORECARD_PATH + query


def report_path(year: int) -> str:
    """The path of the yearly report page of a year."""
    return REPORT_PATH.format(year=int(year))


def ack_path(token: str) -> str:
    """The path of a personal acknowledgement link (the clear token is part of it)."""
    return ACK_PATH.format(token=token)


def absolute_url(path: str) -> str:
    """An absolute link for e-mails and webhooks (config BASE_URL + path)."""
    return current_app.config["BASE_URL"].rstrip("/") + "/" + path.lstrip("/")


def dispatch_url(dispatch_id: int, *, agency_side: bool = False) -> str:
    """The absolute link to a dispatch's page."""
    return absolute_url(dispatch_path(dispatch_id, agency_side=agency_side))


def notice_link(notice: Notification) -> str | None:
    """The path a notice points to (its payload's `path`, else its dispatch's desk page)."""
    path = (notice.payload or {}).get("path")
    if isinstance(path, str) and path.startswith("/"):
        return path
    if notice.dispatch_id:
        return dispatch_path(notice.dispatch_id)
    return None


# --- A user's in-app notifications -----------------------------------------------------


def _delivered_to(user_id: int):
    return (
        Notification.user_id == user_id,
        Notification.channel == Channel.IN_APP.value,
        Notification.state == DeliveryState.SENT.value,
    )


def notifications_for(user):
    """A select() of the in-app notices delivered to `user`, newest first."""
    return (
        select(Notification)
        .where(*_delivered_to(user.id))
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
    )


def unread_count(user) -> int:
    """How many delivered in-app notices `user` has not read."""
    stmt = select(func.count(Notification.id)).where(
        *_delivered_to(user.id), Notification.read_at.is_(None)
    )
    return db.session.scalar(stmt) or 0


def mark_read(user, notification_id: int) -> Notification:
    """Mark one of the user's notices read (NotFound for anybody else's)."""
    notice = db.session.scalar(
        select(Notification).where(Notification.id == notification_id, *_delivered_to(user.id))
    )
    if notice is None:
        raise NotFound(_("No such notification."))
    # A notice read before keeps its first read_at (the guard does not hold: nothing changes).
    guarded_update(notice, Notification.read_at.is_(None), read_at=clock.now())
    return notice


def mark_all_read(user) -> int:
    """Mark every delivered notice of the user read; returns how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(*_delivered_to(user.id), Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    db.session.flush()
    return result.rowcount


# --- The outbox for the administrator ---------------------------------------------------


def outbox_counts() -> dict[str, dict[str, int]]:
    """{channel: {state: count}} for every channel and state (zeros included)."""
    counts = {c.value: {s.value: 0 for s in DeliveryState} for c in Channel}
    stmt = select(Notification.channel, Notification.state, func.count()).group_by(
        Notification.channel, Notification.state
    )
    for channel, state, number in db.session.execute(stmt):
        counts.setdefault(channel, {s.value: 0 for s in DeliveryState})[state] = number
    return counts


def dead_notices():
    """A select() of the notices every attempt failed for, newest first."""
    return (
        select(Notification)
        .where(Notification.state == DeliveryState.DEAD.value)
        .order_by(Notification.id.desc())
    )


def oldest_pending(channel: str | None = None):
    """When the oldest notice still waiting (pending or being sent) was created, or None."""
    stmt = select(func.min(Notification.created_at)).where(
        Notification.state.in_([DeliveryState.PENDING.value, DeliveryState.SENDING.value])
    )
    if channel:
        stmt = stmt.where(Notification.channel == channel)
    return db.session.scalar(stmt)


def retry(notification_id: int) -> Notification:
    """Send a dead notice again: back to pending with fresh attempts (audited)."""
    notice = db.session.get(Notification, notification_id)
    if notice is None:
        raise NotFound(_("No such notification."))
    last_error = notice.last_error
    retried = guarded_update(
        notice,
        Notification.state == DeliveryState.DEAD.value,
        state=DeliveryState.PENDING.value,
        attempts=0,
        next_attempt_at=clock.now(),
    )
    if not retried:
        raise Conflict(_("Only a notice whose every attempt failed can be retried."))
    audit.record(
        "notification.retry",
        "notification",
        notice.id,
        {"state": DeliveryState.DEAD.value, "last_error": last_error},
        {"state": DeliveryState.PENDING.value},
    )
    return notice
