"""The escalation ladder's records: one row per dispatch and step (reminder, breach, chief).

The unique key (dispatch, step) is what makes the overdue sweep idempotent: two sweeps, or two
schedulers, racing on the same dispatch record a step once and enqueue its notices once. The
breach row is the dispatch's breach record (when the sweep saw it overdue); whether a dispatch
*counts* as late is still `Dispatch.outcome()`, computed from its times.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, and_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, db
from models.core.errors import InvalidInput
from models.core.notices import dispatch_path
from models.core.outbox import Channel, enqueue
from models.core.sql import insert_ignore
from models.dispatch import Dispatch, DispatchState
from models.users import Role, User


class EscalationStep(enum.StrEnum):
    """A rung of the ladder, in order."""

    REMINDER = "reminder"  # before the deadline, not yet acknowledged: remind the agency
    BREACH = "breach"  # the deadline passed with nobody there: agency contacts, supervisors
    CHIEF = "chief"  # deadline + N minutes, still nobody: the service-centre chief


class DispatchEscalation(db.Model):
    """One step of the escalation ladder taken for one dispatch (at most once)."""

    __tablename__ = "dispatch_escalation"
    __table_args__ = (UniqueConstraint("dispatch_id", "step", name="uq_dispatch_escalation_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatch.id"))
    step: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]  # when the ladder said this step was due
    recorded_at: Mapped[datetime]  # when a sweep took it (recorded_at - due_at = the delay)
    notices: Mapped[int] = mapped_column(default=0)  # outbox rows written for it


def steps_for(dispatch_id: int) -> list[DispatchEscalation]:
    """The steps taken for one dispatch, oldest first (for the dispatch page)."""
    stmt = (
        select(DispatchEscalation)
        .where(DispatchEscalation.dispatch_id == dispatch_id)
        .order_by(DispatchEscalation.recorded_at, DispatchEscalation.id)
    )
    return list(db.session.scalars(stmt))


def breaches_for(dispatch_ids: list[int]) -> dict[int, datetime]:
    """{dispatch id: when its breach was recorded} for those of `dispatch_ids` with one."""
    if not dispatch_ids:
        return {}
    stmt = select(DispatchEscalation.dispatch_id, DispatchEscalation.recorded_at).where(
        DispatchEscalation.dispatch_id.in_(dispatch_ids),
        DispatchEscalation.step == EscalationStep.BREACH.value,
    )
    return dict(db.session.execute(stmt).all())


# --- The ladder -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ladder:
    """The escalation ladder's settings (config `ESCALATION_*`); None turns a step off."""

    reminder_before: int | None = 180  # seconds before the deadline
    breach_to_supervisors: bool = True
    chief_after: int | None = 300  # seconds after the deadline
    max_age: timedelta = timedelta(hours=24)  # older deadlines: record, but send nothing

    @classmethod
    def from_config(cls, config) -> "Ladder":
        """The ladder configured for this application; InvalidInput names a bad setting."""
        return cls(
            reminder_before=_whole(config, "ESCALATION_REMINDER_SECONDS", optional=True),
            breach_to_supervisors=_flag(config, "ESCALATION_BREACH_TO_SUPERVISORS"),
            chief_after=_whole(config, "ESCALATION_CHIEF_SECONDS", optional=True),
            max_age=timedelta(hours=_whole(config, "ESCALATION_MAX_AGE_HOURS")),
        )

    def steps(self) -> list[EscalationStep]:
        """The steps that are switched on, in ladder order."""
        steps = [EscalationStep.BREACH]
        if self.reminder_before is not None:
            steps.insert(0, EscalationStep.REMINDER)
        if self.chief_after is not None:
            steps.append(EscalationStep.CHIEF)
        return steps


def _whole(config, key: str, *, optional: bool = False) -> int | None:
    value = config.get(key)
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "null", "off"}):
        if optional:
            return None
        raise InvalidInput(f"CITYDESK_{key} must be set")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"CITYDESK_{key} must be a whole number (got {value!r})") from None
    if number < 0 or isinstance(value, bool):
        raise InvalidInput(f"CITYDESK_{key} must be a whole number ≥ 0 (got {value!r})")
    return number


def _flag(config, key: str) -> bool:
    value = config.get(key)
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if str(value).strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(f"CITYDESK_{key} must be true or false (got {value!r})")


def _due_clause(step: EscalationStep, at: datetime, ladder: Ladder):
    """SQL condition: `step` is due for a dispatch at instant `at` (the one rule for both the
    sweep's search and the re-check under lock)."""
    if step == EscalationStep.REMINDER:
        before = timedelta(seconds=ladder.reminder_before)
        return and_(
            Dispatch.state == DispatchState.NOTIFIED.value,  # not acknowledged yet
            Dispatch.deadline_at > at,  # past the deadline the breach notice takes over
            Dispatch.deadline_at <= at + before,
            Dispatch.sla_seconds > ladder.reminder_before,  # due after the notification
        )
    if step == EscalationStep.BREACH:
        return Dispatch.overdue_clause(at)
    return Dispatch.overdue_clause(at - timedelta(seconds=ladder.chief_after))


def due_steps(at: datetime, ladder: Ladder, limit: int = 200) -> list[tuple[int, EscalationStep]]:
    """(dispatch id, step) pairs due at `at` and not taken yet, each dispatch's steps in order."""
    found: list[tuple[int, EscalationStep]] = []
    for step in ladder.steps():
        taken = (
            select(DispatchEscalation.id)
            .where(
                DispatchEscalation.dispatch_id == Dispatch.id,
                DispatchEscalation.step == step.value,
            )
            .exists()
        )
        stmt = (
            select(Dispatch.id)
            .where(_due_clause(step, at, ladder), ~taken)
            .order_by(Dispatch.deadline_at, Dispatch.id)
            .limit(limit)
        )
        found.extend((dispatch_id, step) for dispatch_id in db.session.scalars(stmt))
    return found


def step_due_at(dispatch: Dispatch, step: EscalationStep, ladder: Ladder) -> datetime:
    """The instant the ladder puts `step` for this dispatch."""
    if step == EscalationStep.REMINDER:
        return dispatch.deadline_at - timedelta(seconds=ladder.reminder_before)
    if step == EscalationStep.CHIEF:
        return dispatch.deadline_at + timedelta(seconds=ladder.chief_after)
    return dispatch.deadline_at


EVENT_KINDS = {
    EscalationStep.REMINDER: "dispatch.reminder",
    EscalationStep.BREACH: "dispatch.breach",
    EscalationStep.CHIEF: "dispatch.escalated",
}
AUDIT_ACTIONS = {
    EscalationStep.REMINDER: "dispatch.reminded",
    EscalationStep.BREACH: "dispatch.breached",
    EscalationStep.CHIEF: "dispatch.escalated",
}


def take_step(
    dispatch_id: int, step: EscalationStep, at: datetime, ladder: Ladder
) -> DispatchEscalation | None:
    """Record `step` for a dispatch and enqueue its notices, unless it is no longer due or
    another sweep took it; flushes, the caller commits. None when nothing was done."""
    dispatch = db.session.scalar(
        select(Dispatch)
        .where(Dispatch.id == dispatch_id, _due_clause(step, at, ladder))
        .with_for_update(of=Dispatch)
    )
    if dispatch is None:
        return None
    due_at = step_due_at(dispatch, step, ladder)
    row_id = _insert_once(dispatch.id, step, due_at, at)
    if row_id is None:
        return None  # another sweep recorded it first
    notices = 0
    if at - dispatch.deadline_at <= ladder.max_age:
        notices = _enqueue_step_notices(dispatch, step, ladder)
    db.session.execute(
        update(DispatchEscalation).where(DispatchEscalation.id == row_id).values(notices=notices)
    )
    audit.record(
        AUDIT_ACTIONS[step],
        "dispatch",
        dispatch.id,
        None,
        {
            "step": step.value,
            "due_at": due_at.isoformat(),
            "recorded_at": at.isoformat(),
            "notices": notices,
        },
    )
    db.session.flush()
    return db.session.get(DispatchEscalation, row_id)


def _insert_once(dispatch_id: int, step: EscalationStep, due_at: datetime, at: datetime):
    """Insert the step's record unless it exists; the new id, or None if it was taken."""
    row = insert_ignore(
        DispatchEscalation,
        {
            "dispatch_id": dispatch_id,
            "step": step.value,
            "due_at": due_at,
            "recorded_at": at,
            "notices": 0,
        },
        ["dispatch_id", "step"],
        DispatchEscalation.id,
    )
    return None if row is None else row[0]


def _payload(
    dispatch: Dispatch, step: EscalationStep, ladder: Ladder, *, agency_side: bool
) -> dict:
    payload = {
        "dispatch_id": dispatch.id,
        "agency": dispatch.agency.code,
        "agency_name": dispatch.agency.name_zh,
        "agency_name_en": dispatch.agency.name_en,
        "subject": dispatch.subject,
        "notified_at": dispatch.notified_at.isoformat(),
        "deadline_at": dispatch.deadline_at.isoformat(),
        "sla_seconds": dispatch.sla_seconds,
        "step": step.value,
        "path": dispatch_path(dispatch.id, agency_side=agency_side),
    }
    if step == EscalationStep.CHIEF:
        payload["minutes_late"] = ladder.chief_after // 60
    return payload


def _users(*conditions) -> list[User]:
    stmt = select(User).where(User.active, *conditions).order_by(User.id)
    return list(db.session.scalars(stmt))


def _enqueue_step_notices(dispatch: Dispatch, step: EscalationStep, ladder: Ladder) -> int:
    """Write the step's notices to the outbox; returns how many rows were written."""
    key, kind = f"dispatch:{dispatch.id}:{step.value}", EVENT_KINDS[step]
    written = []

    def send(channel: Channel, recipient: str, *, user: User | None, agency_side: bool):
        payload = _payload(dispatch, step, ladder, agency_side=agency_side)
        written.append(
            enqueue(
                key,
                kind,
                channel,
                recipient,
                payload,
                user_id=user.id if user else None,
                dispatch_id=dispatch.id,
            )
        )

    def users_with_mail(users: list[User]) -> None:
        for user in users:
            send(Channel.IN_APP, f"user:{user.id}", user=user, agency_side=False)
            if user.email:
                send(Channel.EMAIL, user.email.strip(), user=user, agency_side=False)

    if step in (EscalationStep.REMINDER, EscalationStep.BREACH):
        agency = dispatch.agency
        for user in _users(User.agency_id == agency.id, User.role == Role.AGENCY):
            send(Channel.IN_APP, f"user:{user.id}", user=user, agency_side=True)
        for address in agency.email_list:
            send(Channel.EMAIL, address, user=None, agency_side=True)
        if agency.webhook_url:
            send(Channel.WEBHOOK, agency.webhook_url, user=None, agency_side=True)
    if step == EscalationStep.BREACH and ladder.breach_to_supervisors:
        users_with_mail(_users(User.role == Role.SUPERVISOR))
    if step == EscalationStep.CHIEF:
        users_with_mail(_users(User.receives_escalations))
    return sum(1 for notice in written if notice is not None)
