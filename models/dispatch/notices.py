"""Who gets which notice about a dispatch, and what it carries: one function per kind of notice
(notified, reminder, breach, chief, a dissatisfied visitor), all written to the outbox with the
same payload and the page links of `models.core.notices.dispatch_path`.

No petitioner data travels: e-mail and webhooks leave the building.
"""

from dataclasses import dataclass, field
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


class Audience:
    """Who is told, looked up once per agency and once for the service centre's staff: a sweep
    that tells many dispatches at once asks each question once, not once per dispatch."""

    def __init__(self):
        self._agencies: dict[int, list[Recipient]] = {}
        self._supervisors: list[Recipient] | None = None
        self._escalations: list[Recipient] | None = None

    def agency(self, agency: Agency) -> list[Recipient]:
        """`agency_recipients(agency)`, once per agency."""
        if agency.id not in self._agencies:
            self._agencies[agency.id] = agency_recipients(agency)
        return self._agencies[agency.id]

    def supervisors(self) -> list[Recipient]:
        """The active supervisors (staff recipients), once."""
        if self._supervisors is None:
            self._supervisors = staff_recipients(_active_users(User.role == Role.SUPERVISOR))
        return self._supervisors

    def escalations(self) -> list[Recipient]:
        """The active users who receive escalations (staff recipients), once."""
        if self._escalations is None:
            self._escalations = staff_recipients(_active_users(User.receives_escalations))
        return self._escalations


@dataclass(frozen=True)
class StepNotice:
    """The notices of one escalation step of one dispatch: event, kind, who, what extra."""

    event: str
    kind: str
    recipients: list[Recipient]
    extra: dict = field(default_factory=dict)


def reminder_notice(dispatch: Dispatch, number: int, audience: Audience) -> StepNotice:
    """Not acknowledged as the deadline nears: the agency (`number` 2, 3… for the ladder's
    repeated reminders: event `reminder:2`…)."""
    event = "reminder" if number == 1 else f"reminder:{number}"
    extra = {"step": "reminder", "number": number}
    return StepNotice(event, REMINDER, audience.agency(dispatch.agency), extra)


def breach_notice(dispatch: Dispatch, to_supervisors: bool, audience: Audience) -> StepNotice:
    """The deadline passed with nobody there: the agency, and the supervisors if asked."""
    recipients = list(audience.agency(dispatch.agency))
    if to_supervisors:
        recipients += audience.supervisors()
    return StepNotice("breach", BREACH, recipients, {"step": "breach"})


def chief_notice(dispatch: Dispatch, minutes_late: int, audience: Audience) -> StepNotice:
    """Still nobody `minutes_late` after the deadline: the users who receive escalations."""
    extra = {"step": "chief", "minutes_late": minutes_late}
    return StepNotice("chief", CHIEF, audience.escalations(), extra)


def notice_rows(dispatch: Dispatch, notice: StepNotice) -> list[dict]:
    """The outbox rows of a step's notices (for `outbox.enqueue_many`), one per recipient,
    with the same event key and payload as `_enqueue` writes."""
    key = f"dispatch:{dispatch.id}:{notice.event}"
    payloads: dict[bool, dict] = {}  # one payload per side (the agency's page or the desk's)
    rows = []
    for to in notice.recipients:
        if to.agency_side not in payloads:
            payloads[to.agency_side] = payload(dispatch, agency_side=to.agency_side, **notice.extra)
        rows.append(
            {
                "event_key": key,
                "kind": notice.kind,
                "channel": to.channel,
                "recipient": to.address,
                "payload": payloads[to.agency_side],
                "user_id": to.user_id,
                "dispatch_id": dispatch.id,
            }
        )
    return rows


def _enqueue_step(dispatch: Dispatch, notice: StepNotice) -> list[Notification]:
    return _enqueue(dispatch, notice.event, notice.kind, notice.recipients, **notice.extra)


def enqueue_reminder(dispatch: Dispatch, *, number: int = 1) -> list[Notification]:
    """Not acknowledged as the deadline nears: remind the agency (`number` 2, 3… for the
    ladder's repeated reminders: event `reminder:2`…)."""
    return _enqueue_step(dispatch, reminder_notice(dispatch, number, Audience()))


def enqueue_breach(dispatch: Dispatch, *, to_supervisors: bool) -> list[Notification]:
    """The deadline passed with nobody there: the agency, and the supervisors if asked."""
    return _enqueue_step(dispatch, breach_notice(dispatch, to_supervisors, Audience()))


def enqueue_chief(dispatch: Dispatch, *, minutes_late: int) -> list[Notification]:
    """Still nobody `minutes_late` after the deadline: the users who receive escalations."""
    return _enqueue_step(dispatch, chief_notice(dispatch, minutes_late, Audience()))


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
