"""What the facility jobs ask: which tickets are overdue, which rounds are due, and the
reminders for them (queued once: each notice's event key names the occurrence).

Running and scheduling the jobs is `jobs.facility`'s business, not this module's.
"""

from datetime import date

from sqlalchemy import func, select

from models.core import clock, db, outbox
from models.core.notices import ROUNDS_PATH
from models.facility.lookups import active_users
from models.facility.notices import N_, notice_text, notify
from models.facility.rounds import ZoneSchedule, round_schedule
from models.facility.tables import Defect, DefectEvent, EventAction, RoundStatus
from models.facility.timeline import record_event
from models.users import Role

REMINDED_ROUND_STATUSES = (RoundStatus.OVERDUE, RoundStatus.NEVER, RoundStatus.DUE_NEXT)


def overdue_tickets(today: date | None = None) -> list[Defect]:
    """Open tickets past their due date (Taipei calendar), oldest id first."""
    today = today or clock.today()
    return list(
        db.session.scalars(select(Defect).where(Defect.overdue_on(today)).order_by(Defect.id))
    )


def _count_events(defect: Defect, action: EventAction) -> int:
    return db.session.scalar(
        select(func.count(DefectEvent.id)).where(
            DefectEvent.defect_id == defect.id, DefectEvent.action == action
        )
    )


def enqueue_overdue_reminders(defects: list[Defect], *, by: str) -> int:
    """Notices for these overdue tickets, to the assignee and supervisors, once per spell.

    The event key is per ticket and per overdue spell (a reopened ticket that runs late again
    is a new spell), so queuing the same tickets twice sends nothing twice. The ticket's
    timeline gets an "overdue" step done by `by` (the process's name, e.g. "jobs").
    Returns notices written.
    """
    supervisors = active_users(Role.SUPERVISOR)
    sent = 0
    for defect in defects:
        spell = _count_events(defect, EventAction.REOPENED)
        key = f"defect:{defect.id}:overdue:{spell}"
        people = {p.id: p for p in supervisors}
        if defect.assignee is not None and defect.assignee.active:
            people[defect.assignee.id] = defect.assignee
        written = 0
        for person in people.values():
            if notify(
                person,
                key,
                "defect.overdue",
                defect,
                N_("Repair ticket #%(id)s is overdue (due %(due)s): %(place)s"),
                id=defect.id,
                due=defect.due_on.isoformat(),
                place=defect,
            ):
                written += 1
        if written and _count_events(defect, EventAction.OVERDUE) <= spell:
            record_event(defect, EventAction.OVERDUE, by, before=defect.state)
        sent += written
    return sent


def rounds_due(today: date | None = None) -> list[ZoneSchedule]:
    """Zones whose round is overdue, never walked, or due on the next working day."""
    return [s for s in round_schedule(today) if s.status in REMINDED_ROUND_STATUSES]


def enqueue_round_reminders(schedules: list[ZoneSchedule]) -> int:
    """Remind facility staff of these due or overdue rounds, once per zone and due date.

    Event keys name the zone and the due date, so a reminder is never sent twice for the
    same round. Returns notices written.
    """
    staff = active_users(Role.FACILITY)
    sent = 0
    for item in schedules:
        if item.status in (RoundStatus.OVERDUE, RoundStatus.NEVER):
            kind, due = "round.overdue", item.due_on.isoformat() if item.due_on else "never"
            message = N_("Inspection round overdue: %(zone)s (due %(due)s)")
        elif item.status == RoundStatus.DUE_NEXT:
            kind, due = "round.due", item.due_on.isoformat()
            message = N_("Inspection round due %(due)s: %(zone)s")
        else:
            continue
        payload = {
            **notice_text(message, zone=item.zone, due=due),
            "path": ROUNDS_PATH,
            "zone": item.zone.code,
            "due_on": item.due_on.isoformat() if item.due_on else None,
        }
        key = f"round:{item.zone.code}:{kind.split('.')[1]}:{due}"
        for person in staff:
            if outbox.enqueue(
                key, kind, outbox.Channel.IN_APP, f"user:{person.id}", payload, user_id=person.id
            ):
                sent += 1
    return sent
