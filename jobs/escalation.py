"""The overdue sweep: walks the escalation ladder for every open dispatch (reminder before the
deadline and its repeats, breach at the deadline, the chief after it), each dispatch by the
ladder version it recorded when notified (the configured ladder when it recorded none).

The sweep works set-wise: one pass per ladder version and step takes the step for every
dispatch it is due for, in one transaction (models.dispatch.escalation.take_group), so two
thousand deadlines at one instant cost a few statements, not two thousand transactions. A pass
that fails is taken again dispatch by dispatch, so one bad row cannot hold up the others. Each
step is recorded once per dispatch, whoever else sweeps at the same time.

`next_due()` says when the next step falls: the scheduler wakes the sweep then, instead of at
its next fixed tick (jobs.scheduler)."""

from flask import Flask

from jobs import kv, log
from jobs.config import Ladder
from models.core import audit, clock, db
from models.dispatch.escalation import (
    EscalationStep,
    Group,
    Taken,
    due_dispatch_ids,
    due_groups,
    next_due_at,
    take_group,
)

NAME = "overdue_sweep"


def overdue_sweep(app: Flask) -> dict:
    """Take every escalation step that is due now; returns counts per step and of notices."""
    counts = {step.value: 0 for step in EscalationStep} | {"notices": 0}
    failed = 0
    with app.app_context(), audit.acting_as(audit.JOBS):
        ladder = Ladder.from_config(app.config)
        groups = due_groups(fallback=ladder.rungs)
        db.session.rollback()
        for group in groups:
            full = True
            while full:
                at = clock.now()
                try:
                    taken, full = take_group(group, at, max_age=ladder.max_age)
                    db.session.commit()
                except Exception:
                    db.session.rollback()
                    log.exception(
                        kv(job=NAME, step=group.step.value, result="error", retry="one by one")
                    )
                    taken, errors = _one_by_one(group, at, ladder)
                    failed += errors
                    full = False
                _count(taken, counts)
    if failed:
        raise RuntimeError(f"{failed} escalation step(s) failed; " + kv(**counts))
    return counts


def _one_by_one(group: Group, at, ladder: Ladder) -> tuple[list[Taken], int]:
    """Take a failed pass again, each dispatch in its own transaction; (taken, failures)."""
    taken: list[Taken] = []
    failed = 0
    for dispatch_id in due_dispatch_ids(group, at):
        db.session.rollback()
        try:
            one, _full = take_group(group, at, max_age=ladder.max_age, only=[dispatch_id])
            db.session.commit()
        except Exception:
            db.session.rollback()
            failed += 1
            log.exception(kv(job=NAME, step=group.step.value, dispatch=dispatch_id, result="error"))
            continue
        taken += one
    db.session.rollback()
    return taken, failed


def _count(taken: list[Taken], counts: dict) -> None:
    """Add a pass's steps to the counts and log each (after its commit)."""
    for step in taken:
        counts[step.step.value] += 1
        counts["notices"] += step.notices
        delay = (step.recorded_at - step.due_at).total_seconds()
        log.info(
            kv(
                job=NAME,
                step=step.key,
                dispatch=step.dispatch_id,
                notices=step.notices,
                delay_s=f"{delay:.1f}",
            )
        )


def next_due(app: Flask) -> float | None:
    """Seconds from now until the next escalation step falls (0 when one is due now), or None
    when no open dispatch has a step to come."""
    with app.app_context():
        ladder = Ladder.from_config(app.config)
        now = clock.now()
        at = next_due_at(now, fallback=ladder.rungs)
        db.session.rollback()
    return None if at is None else max(0.0, (at - now).total_seconds())
