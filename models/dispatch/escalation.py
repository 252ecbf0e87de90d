"""The escalation ladder, the domain's part: which steps (reminder and its repeats, breach,
chief) are due, taking them set-wise (one pass per ladder version and step records the step
and writes the notices of every dispatch it is due for), when the next one falls, and the
records themselves, one row per dispatch and step. How long before or after the deadline
each step comes is the ladder version each dispatch recorded when it was notified
(models.dispatch.ladder); a dispatch that recorded none follows the configured ladder, which
the jobs pass in (`fallback`).

The unique key (dispatch, step key) is what makes the overdue sweep idempotent: two sweeps, or
two schedulers, racing on the same dispatch record a step once and enqueue its notices once
(the pass locks its dispatches, inserts the step records with ON CONFLICT DO NOTHING and
writes notices only for the records it inserted). The step key is the step's name, and for a
repeated reminder its number: `reminder` (the first), `reminder:2`, `reminder:3`... The breach
row is the dispatch's breach record (when the sweep saw it overdue); whether a dispatch
*counts* as late is still `Dispatch.outcome()`, computed from its times.
"""

import enum
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, and_, func, select, update
from sqlalchemy.orm import Mapped, mapped_column, selectinload

from models.core import audit, db
from models.core.outbox import enqueue_many
from models.core.sql import insert_ignore_many
from models.dispatch.ladder import EscalationLadder, Rungs, reminder_due_at, reminder_number
from models.dispatch.notices import (
    Audience,
    StepNotice,
    breach_notice,
    chief_notice,
    notice_rows,
    reminder_notice,
)
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


GROUP_LIMIT = 5000  # dispatches one pass takes at most (a bigger backlog: another pass)
WAKE_MARGIN = timedelta(milliseconds=1)  # a breach is due strictly after its deadline


@dataclass(frozen=True)
class Group:
    """One pass of a sweep: one step of one ladder version (None: the configured ladder)."""

    ladder_id: int | None
    rungs: Rungs
    step: EscalationStep


@dataclass(frozen=True)
class Taken:
    """A step a sweep recorded for a dispatch."""

    dispatch_id: int
    step: EscalationStep
    key: str
    due_at: datetime
    recorded_at: datetime
    notices: int


def due_groups(*, fallback: Rungs) -> list[Group]:
    """The passes a sweep makes: for every ladder version open dispatches follow (`fallback`,
    the configured ladder, for those that recorded none), each step switched on in it;
    breaches first, then the chief's notices (after their breach), then reminders."""
    ladders = _ladders_in_use(fallback)
    order = [EscalationStep.BREACH, EscalationStep.CHIEF, EscalationStep.REMINDER]
    return [
        Group(ladder_id, rungs, step)
        for step in order
        for ladder_id, rungs in ladders
        if step in steps_on(rungs)
    ]


def _candidates(group: Group, at: datetime, only: list[int] | None):
    """SQL conditions: the group's dispatches the step may be due for at `at`."""
    conditions = [_same_ladder(group.ladder_id), _due_clause(group.step, at, group.rungs)]
    if group.step != EscalationStep.REMINDER:
        taken = (
            select(DispatchEscalation.id)
            .where(
                DispatchEscalation.dispatch_id == Dispatch.id,
                DispatchEscalation.step == group.step.value,
            )
            .exists()
        )
        conditions.append(~taken)  # the reminders' keys depend on the number: checked below
    if only is not None:
        conditions.append(Dispatch.id.in_(only))
    return conditions


def due_dispatch_ids(group: Group, at: datetime, limit: int = GROUP_LIMIT) -> list[int]:
    """The dispatches the group's step may be due for at `at` (to take them one by one)."""
    stmt = (
        select(Dispatch.id).where(*_candidates(group, at, None)).order_by(Dispatch.id).limit(limit)
    )
    return list(db.session.scalars(stmt))


def take_group(
    group: Group,
    at: datetime,
    *,
    max_age: timedelta,
    only: list[int] | None = None,
    limit: int = GROUP_LIMIT,
) -> tuple[list[Taken], bool]:
    """Take the group's step for every dispatch it is due for at `at`, set-wise: one locking
    SELECT of the due dispatches (`FOR UPDATE` on PostgreSQL, in id order), one INSERT ... ON
    CONFLICT DO NOTHING of the step records (a dispatch another sweep recorded first is left
    out), one INSERT of their notices (in-app ones delivered at once), the notice counts, and an
    audit entry per step. Flushes; the caller commits. A step taken more than `max_age` after
    the deadline is recorded but sends nothing. Returns the steps taken and whether the pass
    was full (`limit` dispatches: more may be due)."""
    dispatches = _lock_candidates(group, at, only, limit)
    full = len(dispatches) == limit
    due = _due_numbers(group, dispatches, at)
    if not due:
        return [], full
    row_ids = _insert_records(group, due, at)
    mine = [(dispatch, number) for dispatch, number in due if dispatch.id in row_ids]
    written = _write_notices(group, mine, row_ids, at, max_age)
    result = [_audited_step(group, dispatch, number, written, at) for dispatch, number in mine]
    db.session.flush()
    return result, full


def _lock_candidates(group: Group, at: datetime, only: list[int] | None, limit: int):
    """The group's candidate dispatches at `at`, locked (`FOR UPDATE`), in id order."""
    stmt = (
        select(Dispatch)
        .where(*_candidates(group, at, only))
        .order_by(Dispatch.id)
        .limit(limit)
        .options(selectinload(Dispatch.visit))
        .with_for_update(of=Dispatch)
    )
    return list(db.session.scalars(stmt).unique())


def _due_numbers(group: Group, dispatches: list[Dispatch], at: datetime):
    """[(dispatch, number)] the step is due for: for reminders the number due and not yet
    recorded (`ladder.reminder_number`), for the breach and the chief 1 (the search said)."""
    if group.step != EscalationStep.REMINDER:
        return [(dispatch, 1) for dispatch in dispatches]
    taken = _taken([dispatch.id for dispatch in dispatches])
    due = []
    for dispatch in dispatches:
        number = reminder_number(dispatch, group.rungs, at)
        if number is not None and (dispatch.id, step_key(group.step, number)) not in taken:
            due.append((dispatch, number))
    return due


def _insert_records(group: Group, due, at: datetime) -> dict[int, int]:
    """Insert the step records (ON CONFLICT DO NOTHING); {dispatch id: record id} of those
    inserted here (a dispatch absent: another sweep took it)."""
    records = [
        {
            "dispatch_id": dispatch.id,
            "step": step_key(group.step, number),
            "due_at": step_due_at(dispatch, group.step, group.rungs, number),
            "recorded_at": at,
            "notices": 0,
        }
        for dispatch, number in due
    ]
    inserted = insert_ignore_many(
        DispatchEscalation,
        records,
        ["dispatch_id", "step"],
        [DispatchEscalation.dispatch_id, DispatchEscalation.id],
    )
    return dict(inserted)


def _write_notices(group: Group, mine, row_ids: dict[int, int], at, max_age) -> Counter:
    """Enqueue the steps' notices (none past `max_age` after the deadline) and store each
    record's count; {dispatch id: notices written}."""
    audience = Audience()
    rows = []
    for dispatch, number in mine:
        if at - dispatch.deadline_at <= max_age:
            notice = step_notice(dispatch, group.step, number, group.rungs, audience)
            rows += notice_rows(dispatch, notice)
    written = Counter(enqueue_many(rows, at=at))
    by_count: dict[int, list[int]] = defaultdict(list)
    for dispatch, _number in mine:
        by_count[written[dispatch.id]].append(row_ids[dispatch.id])
    for count, ids in by_count.items():
        if count:
            db.session.execute(
                update(DispatchEscalation)
                .where(DispatchEscalation.id.in_(ids))
                .values(notices=count)
                .execution_options(synchronize_session=False)
            )
    return written


def _audited_step(group: Group, dispatch: Dispatch, number: int, written, at) -> Taken:
    """The step taken for one dispatch, with its audit entry."""
    step = Taken(
        dispatch_id=dispatch.id,
        step=group.step,
        key=step_key(group.step, number),
        due_at=step_due_at(dispatch, group.step, group.rungs, number),
        recorded_at=at,
        notices=written[dispatch.id],
    )
    audit.record(
        AUDIT_ACTIONS[group.step],
        "dispatch",
        dispatch.id,
        None,
        {
            "step": step.key,
            "ladder_version": dispatch.ladder_id,
            "due_at": step.due_at.isoformat(),
            "recorded_at": at.isoformat(),
            "notices": step.notices,
        },
    )
    return step


def step_notice(
    dispatch: Dispatch, step: EscalationStep, number: int, rungs: Rungs, audience: Audience
) -> StepNotice:
    """Who a step tells and what (models.dispatch.notices)."""
    if step == EscalationStep.REMINDER:
        return reminder_notice(dispatch, number, audience)
    if step == EscalationStep.BREACH:
        return breach_notice(dispatch, rungs.breach_to_supervisors, audience)
    return chief_notice(dispatch, rungs.chief_after // 60, audience)


def next_due_at(at: datetime, *, fallback: Rungs) -> datetime | None:
    """The earliest instant after `at` at which a step falls for an open dispatch (each by
    its own ladder version; `fallback` for those that recorded none), or None: the sweep
    sleeps until then, or until its cadence, whichever comes first. Steps already overdue
    (a pass that failed) are left to the cadence."""
    found: list[datetime] = []
    open_ = Dispatch.state.in_(OPEN_VALUES)

    def earliest(*conditions) -> datetime | None:
        return db.session.scalar(select(func.min(Dispatch.deadline_at)).where(*conditions))

    for ladder_id, rungs in _ladders_in_use(fallback):
        same = _same_ladder(ladder_id)
        deadline = earliest(same, open_, ~Dispatch.past_deadline(at))
        if deadline is not None:
            found.append(deadline + WAKE_MARGIN)
        if rungs.chief_after is not None:
            after = timedelta(seconds=rungs.chief_after)
            deadline = earliest(same, open_, ~Dispatch.past_deadline(at - after))
            if deadline is not None:
                found.append(deadline + after + WAKE_MARGIN)
        if rungs.reminder_before is not None:
            before = timedelta(seconds=rungs.reminder_before)
            waiting = Dispatch.state == DispatchState.NOTIFIED.value
            deadline = earliest(same, waiting, Dispatch.deadline_at > at + before)
            if deadline is not None:
                found.append(deadline - before)
            if rungs.repeat_every:
                found += _next_repeats(same, rungs, at)
    return min(found, default=None)


def _next_repeats(same_ladder, rungs: Rungs, at: datetime) -> list[datetime]:
    """The next repeated reminder of each dispatch now in its reminder window."""
    before, every = timedelta(seconds=rungs.reminder_before), timedelta(seconds=rungs.repeat_every)
    deadlines = db.session.scalars(
        select(Dispatch.deadline_at)
        .where(
            same_ladder,
            Dispatch.state == DispatchState.NOTIFIED.value,
            Dispatch.deadline_at > at,
            Dispatch.deadline_at <= at + before,
        )
        .distinct()
    )
    found = []
    for deadline in deadlines:
        first = deadline - before
        following = first + ((at - first) // every + 1) * every
        if following < deadline:
            found.append(following)
    return found
