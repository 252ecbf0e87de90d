"""Who gets which notice about a dispatch, and what it carries: one function per kind of notice
(notified, reminder, breach, chief, a dissatisfied visitor), all written to the outbox with the
same payload and the page links of `models.core.notices.dispatch_path`.

No petitioner data travels: e-mail and webhooks leave the building.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from models.core import db
from models.core.notices import dispatch_path
from models.core.outbox import Channel, Notification, enqueue
from models.dispatch import ack_links as ack
from models.dispatch.tables import Dispatch
from models.reference import Agency
from models.users import Role, User

NOTIFIED, REMINDER, BREACH, CHIEF = (
    "dispatch.notified",
    "dispatch.reminder",
    "dispatch.breach",
    "dispatch.escalated",
)
DISSATISFIED = "visit.dissatisfied"


@dataclass(frozen=True)
class Recipient:
    """One addressee of a notice: a channel, its address, the user if any, and whether the
    link goes to the agency's page (else the desk's)."""

    channel: Channel
    address: str
    user_id: int | None = None
    agency_side: bool = False


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def payload(dispatch: Dispatch, *, agency_side: bool, **extra) -> dict:
    """What a notice about a dispatch carries, with the link for its recipient's side."""
    visit = dispatch.visit
    return {
        "dispatch_id": dispatch.id,
        "agency": dispatch.agency.code,
        "agency_name": dispatch.agency.name_zh,
        "agency_name_en": dispatch.agency.name_en,
        "subject": dispatch.subject,
        "kind": visit.kind if visit else None,
        "is_senior": bool(visit and visit.is_senior),
        "needs_accessibility": bool(visit and visit.needs_accessibility),
        "notified_at": _iso(dispatch.notified_at),
        "deadline_at": _iso(dispatch.deadline_at),
        "sla_seconds": dispatch.sla_seconds,
        "path": dispatch_path(dispatch.id, agency_side=agency_side),
        **extra,
    }


def _active_users(*conditions) -> list[User]:
    stmt = select(User).where(User.active, *conditions).order_by(User.id)
    return list(db.session.scalars(stmt))


def agency_recipients(agency: Agency) -> list[Recipient]:
    """An agency: each of its active staff in-app, each of its addresses by e-mail, its
    webhook; links to the agency's page."""
    found = [
        Recipient(Channel.IN_APP, f"user:{user.id}", user.id, agency_side=True)
        for user in _active_users(User.agency_id == agency.id, User.role == Role.AGENCY)
    ]
    found += [Recipient(Channel.EMAIL, address, agency_side=True) for address in agency.email_list]
    if agency.webhook_url:
        found.append(Recipient(Channel.WEBHOOK, agency.webhook_url, agency_side=True))
    return found


def staff_recipients(users: list[User]) -> list[Recipient]:
    """Service-centre staff: each in-app and, with an address, by e-mail; links to the desk."""
    found = []
    for user in users:
        found.append(Recipient(Channel.IN_APP, f"user:{user.id}", user.id))
        if user.email:
            found.append(Recipient(Channel.EMAIL, user.email.strip(), user.id))
    return found


def _enqueue(
    dispatch: Dispatch,
    event: str,
    kind: str,
    recipients: list[Recipient],
    *,
    ack_links: bool = False,
    **extra,
) -> list[Notification]:
    """Write one notice per recipient (event key `dispatch:<id>:<event>`); the new rows.
    With `ack_links`, each e-mail to the agency carries its recipient's own acknowledgement
    link, stored (hashed) in this same transaction."""
    key = f"dispatch:{dispatch.id}:{event}"
    written = []
    for to in recipients:
        with_link = ack_links and to.agency_side and to.channel == Channel.EMAIL
        token = ack.new_token() if with_link else None
        link = ack.payload_for(token) if token else {}
        notice = enqueue(
            key,
            kind,
            to.channel,
            to.address,
            payload(dispatch, agency_side=to.agency_side, **extra, **link),
            user_id=to.user_id,
            dispatch_id=dispatch.id,
        )
        if notice is None:
            continue  # told already: no second link either
        if token:
            ack.record_ack_link(
                dispatch, token, to.address, user_id=to.user_id, notification_id=notice.id
            )
        written.append(notice)
    return written


def enqueue_notified(dispatch: Dispatch) -> list[Notification]:
    """A new dispatch: tell the agency (each e-mail with its acknowledgement link)."""
    recipients = agency_recipients(dispatch.agency)
    return _enqueue(dispatch, "notified", NOTIFIED, recipients, ack_links=True)


def enqueue_reminder(dispatch: Dispatch, *, number: int = 1) -> list[Notification]:
    """Not acknowledged as the deadline nears: remind the agency (`number` 2, 3… for the
    ladder's repeated reminders: event `reminder:2`…)."""
    recipients = agency_recipients(dispatch.agency)
    event = "reminder" if number == 1 else f"reminder:{number}"
    return _enqueue(dispatch, event, REMINDER, recipients, step="reminder", number=number)


def enqueue_breach(dispatch: Dispatch, *, to_supervisors: bool) -> list[Notification]:
    """The deadline passed with nobody there: the agency, and the supervisors if asked."""
    recipients = agency_recipients(dispatch.agency)
    if to_supervisors:
        recipients += staff_recipients(_active_users(User.role == Role.SUPERVISOR))
    return _enqueue(dispatch, "breach", BREACH, recipients, step="breach")


def enqueue_chief(dispatch: Dispatch, *, minutes_late: int) -> list[Notification]:
    """Still nobody `minutes_late` after the deadline: the users who receive escalations."""
    recipients = staff_recipients(_active_users(User.receives_escalations))
    return _enqueue(dispatch, "chief", CHIEF, recipients, step="chief", minutes_late=minutes_late)


def enqueue_dissatisfied(
    dispatch: Dispatch, *, visit_id: int, wait_minutes: float | None
) -> list[Notification]:
    """A visitor answered 不滿意 about the agency that served them: the users who receive
    escalations (the service-centre chief) at once, with the visit, the agency and the wait."""
    recipients = staff_recipients(_active_users(User.receives_escalations))
    return _enqueue(
        dispatch,
        "dissatisfied",
        DISSATISFIED,
        recipients,
        visit_id=visit_id,
        score="dissatisfied",
        wait_minutes=wait_minutes,
        arrived_at=_iso(dispatch.arrived_at),
    )
