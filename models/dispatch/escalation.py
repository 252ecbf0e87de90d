"""The escalation ladder, the domain's part: which steps (reminder, breach, chief) are due,
taking one (its record and its notices), and the records themselves, one row per dispatch and
step. How long before or after the deadline each step comes is configuration, read by the jobs
(jobs.config.Ladder) and passed in as arguments.

The unique key (dispatch, step) is what makes the overdue sweep idempotent: two sweeps, or two
schedulers, racing on the same dispatch record a step once and enqueue its notices once. The
breach row is the dispatch's breach record (when the sweep saw it overdue); whether a dispatch
*counts* as late is still `Dispatch.outcome()`, computed from its times.
"""

import enum
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, and_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, db
from models.core.sql import insert_ignore
from models.dispatch.notices import enqueue_breach, enqueue_chief, enqueue_reminder
from models.dispatch.tables import Dispatch, DispatchState


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


def steps_on(reminder_before: int | None, chief_after: int | None) -> list[EscalationStep]:
    """The steps switched on, in ladder order (the breach always is; None turns one off)."""
    steps = [EscalationStep.BREACH]
    if reminder_before is not None:
        steps.insert(0, EscalationStep.REMINDER)
    if chief_after is not None:
        steps.append(EscalationStep.CHIEF)
    return steps


def _due_clause(
    step: EscalationStep, at: datetime, reminder_before: int | None, chief_after: int | None
):
    """SQL condition: `step` is due for a dispatch at instant `at` (the one rule for both the
    sweep's search and the re-check under lock)."""
    if step == EscalationStep.REMINDER:
        return and_(
            Dispatch.state == DispatchState.NOTIFIED.value,  # not acknowledged yet
            Dispatch.deadline_at > at,  # past the deadline the breach notice takes over
            Dispatch.deadline_at <= at + timedelta(seconds=reminder_before),
            Dispatch.sla_seconds > reminder_before,  # due after the notification
        )
    if step == EscalationStep.BREACH:
        return Dispatch.overdue_clause(at)
    return Dispatch.overdue_clause(at - timedelta(seconds=chief_after))


def due_steps(
    at: datetime, *, reminder_before: int | None, chief_after: int | None, limit: int = 200
) -> list[tuple[int, EscalationStep]]:
    """(dispatch id, step) pairs due at `at` and not taken yet, each dispatch's steps in order;
    `reminder_before` and `chief_after` are seconds from the deadline (None: step off)."""
    found: list[tuple[int, EscalationStep]] = []
    for step in steps_on(reminder_before, chief_after):
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
            .where(_due_clause(step, at, reminder_before, chief_after), ~taken)
            .order_by(Dispatch.deadline_at, Dispatch.id)
            .limit(limit)
        )
        found.extend((dispatch_id, step) for dispatch_id in db.session.scalars(stmt))
    return found


def step_due_at(
    dispatch: Dispatch,
    step: EscalationStep,
    *,
    reminder_before: int | None = None,
    chief_after: int | None = None,
) -> datetime:
    """The instant the ladder puts `step` for this dispatch."""
    if step == EscalationStep.REMINDER:
        return dispatch.deadline_at - timedelta(seconds=reminder_before)
    if step == EscalationStep.CHIEF:
        return dispatch.deadline_at + timedelta(seconds=chief_after)
    return dispatch.deadline_at


AUDIT_ACTIONS = {
    EscalationStep.REMINDER: "dispatch.reminded",
    EscalationStep.BREACH: "dispatch.breached",
    EscalationStep.CHIEF: "dispatch.escalated",
}


def take_step(
    dispatch_id: int,
    step: EscalationStep,
    at: datetime,
    *,
    reminder_before: int | None = None,
    chief_after: int | None = None,
    breach_to_supervisors: bool = True,
    max_age: timedelta,
) -> DispatchEscalation | None:
    """Record `step` for a dispatch and enqueue its notices, unless it is no longer due or
    another sweep took it; flushes, the caller commits. None when nothing was done. A step
    taken more than `max_age` after the deadline is recorded but sends nothing."""
    dispatch = db.session.scalar(
        select(Dispatch)
        .where(Dispatch.id == dispatch_id, _due_clause(step, at, reminder_before, chief_after))
        .with_for_update(of=Dispatch)
    )
    if dispatch is None:
        return None
    due_at = step_due_at(dispatch, step, reminder_before=reminder_before, chief_after=chief_after)
    row_id = _insert_once(dispatch.id, step, due_at, at)
    if row_id is None:
        return None  # another sweep recorded it first
    notices = 0
    if at - dispatch.deadline_at <= max_age:
        notices = enqueue_step_notices(
            dispatch, step, chief_after=chief_after, breach_to_supervisors=breach_to_supervisors
        )
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


def enqueue_step_notices(
    dispatch: Dispatch,
    step: EscalationStep,
    *,
    chief_after: int | None = None,
    breach_to_supervisors: bool = True,
) -> int:
    """Write the step's notices to the outbox (models.dispatch.notices); how many rows."""
    if step == EscalationStep.REMINDER:
        written = enqueue_reminder(dispatch)
    elif step == EscalationStep.BREACH:
        written = enqueue_breach(dispatch, to_supervisors=breach_to_supervisors)
    else:
        written = enqueue_chief(dispatch, minutes_late=chief_after // 60)
    return len(written)


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
