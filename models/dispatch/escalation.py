"""The escalation ladder, the domain's part: which steps (reminder and its repeats, breach,
chief) are due, taking one (its record and its notices), and the records themselves, one row
per dispatch and step. How long before or after the deadline each step comes is the ladder
version each dispatch recorded when it was notified (models.dispatch.ladder); a dispatch that
recorded none follows the configured ladder, which the jobs pass in (`fallback`).

The unique key (dispatch, step key) is what makes the overdue sweep idempotent: two sweeps, or
two schedulers, racing on the same dispatch record a step once and enqueue its notices once.
The step key is the step's name, and for a repeated reminder its number: `reminder` (the
first), `reminder:2`, `reminder:3`... The breach row is the dispatch's breach record (when the
sweep saw it overdue); whether a dispatch *counts* as late is still `Dispatch.outcome()`,
computed from its times.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, and_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, db
from models.core.sql import insert_ignore
from models.dispatch.ladder import EscalationLadder, Rungs, reminder_due_at, reminder_number
from models.dispatch.notices import enqueue_breach, enqueue_chief, enqueue_reminder
from models.dispatch.tables import OPEN_VALUES, Dispatch, DispatchState


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


@dataclass(frozen=True)
class DueStep:
    """A step due for a dispatch: which, and for a reminder its number (1 the first, 2… the
    repeats)."""

    dispatch_id: int
    step: EscalationStep
    number: int = 1

    @property
    def key(self) -> str:
        """The step's key in `dispatch_escalation` and in its notices' event key."""
        return step_key(self.step, self.number)


def step_key(step: EscalationStep, number: int = 1) -> str:
    """`reminder`, `reminder:2`, `reminder:3`…, `breach`, `chief`."""
    return step.value if number == 1 else f"{step.value}:{number}"


def steps_on(rungs: Rungs) -> list[EscalationStep]:
    """The steps switched on, in ladder order (the breach always is; None turns one off)."""
    steps = [EscalationStep.BREACH]
    if rungs.reminder_before is not None:
        steps.insert(0, EscalationStep.REMINDER)
    if rungs.chief_after is not None:
        steps.append(EscalationStep.CHIEF)
    return steps


def _due_clause(step: EscalationStep, at: datetime, rungs: Rungs):
    """SQL condition: `step` may be due for a dispatch at instant `at` (the search and the
    re-check under lock). For the breach and the chief it is the rule itself; for reminders it
    is their window, and `ladder.reminder_number` says which one is due."""
    if step == EscalationStep.REMINDER:
        return and_(
            Dispatch.state == DispatchState.NOTIFIED.value,  # not acknowledged yet
            Dispatch.deadline_at > at,  # past the deadline the breach notice takes over
            Dispatch.deadline_at <= at + timedelta(seconds=rungs.reminder_before),
        )
    if step == EscalationStep.BREACH:
        return Dispatch.overdue_clause(at)
    return Dispatch.overdue_clause(at - timedelta(seconds=rungs.chief_after))


def _same_ladder(ladder_id: int | None):
    """SQL condition: the dispatch follows this version (None: it recorded none)."""
    if ladder_id is None:
        return Dispatch.ladder_id.is_(None)
    return Dispatch.ladder_id == ladder_id


def _rungs(ladder_id: int | None, fallback: Rungs) -> Rungs:
    """The rungs of a ladder version (None: the configured ones, `fallback`)."""
    return fallback if ladder_id is None else db.session.get(EscalationLadder, ladder_id).rungs


def _ladders_in_use(fallback: Rungs) -> list[tuple[int | None, Rungs]]:
    """The versions open dispatches follow, with their rungs (None: the configured ones)."""
    ids = db.session.scalars(
        select(Dispatch.ladder_id).where(Dispatch.state.in_(OPEN_VALUES)).distinct()
    )
    ordered = sorted(ids, key=lambda ladder_id: (ladder_id is not None, ladder_id or 0))
    return [(ladder_id, _rungs(ladder_id, fallback)) for ladder_id in ordered]


def _taken(dispatch_ids: list[int]) -> set[tuple[int, str]]:
    """(dispatch id, step key) of the steps already recorded for these dispatches."""
    if not dispatch_ids:
        return set()
    stmt = select(DispatchEscalation.dispatch_id, DispatchEscalation.step).where(
        DispatchEscalation.dispatch_id.in_(dispatch_ids)
    )
    return {(dispatch_id, key) for dispatch_id, key in db.session.execute(stmt)}


def due_steps(at: datetime, *, fallback: Rungs, limit: int = 200) -> list[DueStep]:
    """The steps due at `at` and not taken yet, each dispatch following the ladder version it
    recorded (`fallback`, the configured ladder, when it recorded none); each dispatch's
    steps in ladder order."""
    found: list[DueStep] = []
    for ladder_id, rungs in _ladders_in_use(fallback):
        for step in steps_on(rungs):
            if step == EscalationStep.REMINDER:
                found += _due_reminders(ladder_id, rungs, at, limit)
            else:
                found += _due_once(step, ladder_id, rungs, at, limit)
    return found


def _due_once(
    step: EscalationStep, ladder_id: int | None, rungs: Rungs, at: datetime, limit: int
) -> list[DueStep]:
    """The breaches (or chief's notices) due for one version's dispatches, not taken yet."""
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
        .where(_same_ladder(ladder_id), _due_clause(step, at, rungs), ~taken)
        .order_by(Dispatch.deadline_at, Dispatch.id)
        .limit(limit)
    )
    return [DueStep(dispatch_id, step) for dispatch_id in db.session.scalars(stmt)]


def _due_reminders(ladder_id: int | None, rungs: Rungs, at: datetime, limit: int) -> list[DueStep]:
    """The reminder due now (its number) for each of one version's dispatches in their
    reminder window, unless that one was taken."""
    stmt = (
        select(Dispatch)
        .where(_same_ladder(ladder_id), _due_clause(EscalationStep.REMINDER, at, rungs))
        .order_by(Dispatch.deadline_at, Dispatch.id)
        .limit(limit)
    )
    dispatches = list(db.session.scalars(stmt))
    taken = _taken([dispatch.id for dispatch in dispatches])
    found = []
    for dispatch in dispatches:
        number = reminder_number(dispatch, rungs, at)
        if number is not None:
            due = DueStep(dispatch.id, EscalationStep.REMINDER, number)
            if (dispatch.id, due.key) not in taken:
                found.append(due)
    return found


def step_due_at(
    dispatch: Dispatch, step: EscalationStep, rungs: Rungs, number: int = 1
) -> datetime:
    """The instant the ladder puts `step` (reminder `number`) for this dispatch."""
    if step == EscalationStep.REMINDER:
        return reminder_due_at(dispatch, rungs, number)
    if step == EscalationStep.CHIEF:
        return dispatch.deadline_at + timedelta(seconds=rungs.chief_after)
    return dispatch.deadline_at


AUDIT_ACTIONS = {
    EscalationStep.REMINDER: "dispatch.reminded",
    EscalationStep.BREACH: "dispatch.breached",
    EscalationStep.CHIEF: "dispatch.escalated",
}


def take_step(
    due: DueStep, at: datetime, *, fallback: Rungs, max_age: timedelta
) -> DispatchEscalation | None:
    """Record a due step for a dispatch and enqueue its notices, unless it is no longer due or
    another sweep took it; flushes, the caller commits. None when nothing was done. A step
    taken more than `max_age` after the deadline is recorded but sends nothing."""
    # The version a dispatch follows is fixed when it is notified: read it before the lock.
    ladder_id = db.session.scalar(select(Dispatch.ladder_id).where(Dispatch.id == due.dispatch_id))
    rungs = _rungs(ladder_id, fallback)
    if due.step not in steps_on(rungs):
        return None
    dispatch = db.session.scalar(
        select(Dispatch)
        .where(Dispatch.id == due.dispatch_id, _due_clause(due.step, at, rungs))
        .with_for_update(of=Dispatch)
    )
    if dispatch is None:
        return None
    if due.step == EscalationStep.REMINDER and reminder_number(dispatch, rungs, at) != due.number:
        return None
    due_at = step_due_at(dispatch, due.step, rungs, due.number)
    row_id = _insert_once(dispatch.id, due.key, due_at, at)
    if row_id is None:
        return None  # another sweep recorded it first
    notices = 0
    if at - dispatch.deadline_at <= max_age:
        notices = enqueue_step_notices(dispatch, due, rungs)
    db.session.execute(
        update(DispatchEscalation).where(DispatchEscalation.id == row_id).values(notices=notices)
    )
    audit.record(
        AUDIT_ACTIONS[due.step],
        "dispatch",
        dispatch.id,
        None,
        {
            "step": due.key,
            "ladder_version": dispatch.ladder_id,
            "due_at": due_at.isoformat(),
            "recorded_at": at.isoformat(),
            "notices": notices,
        },
    )
    db.session.flush()
    return db.session.get(DispatchEscalation, row_id)


def enqueue_step_notices(dispatch: Dispatch, due: DueStep, rungs: Rungs) -> int:
    """Write the step's notices to the outbox (models.dispatch.notices); how many rows."""
    if due.step == EscalationStep.REMINDER:
        written = enqueue_reminder(dispatch, number=due.number)
    elif due.step == EscalationStep.BREACH:
        written = enqueue_breach(dispatch, to_supervisors=rungs.breach_to_supervisors)
    else:
        written = enqueue_chief(dispatch, minutes_late=rungs.chief_after // 60)
    return len(written)


def _insert_once(dispatch_id: int, key: str, due_at: datetime, at: datetime):
    """Insert the step's record unless it exists; the new id, or None if it was taken."""
    row = insert_ignore(
        DispatchEscalation,
        {
            "dispatch_id": dispatch_id,
            "step": key,
            "due_at": due_at,
            "recorded_at": at,
            "notices": 0,
        },
        ["dispatch_id", "step"],
        DispatchEscalation.id,
    )
    return None if row is None else row[0]
