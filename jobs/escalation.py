"""The overdue sweep: walks the escalation ladder for every open dispatch (reminder before the
deadline and its repeats, breach at the deadline, the chief after it), each dispatch by the
ladder version it recorded when notified (the configured ladder when it recorded none). Each
step is taken in its own transaction, once per dispatch, whoever else sweeps at the same
time."""

from flask import Flask

from jobs import kv, log
from jobs.config import Ladder
from models.core import audit, clock, db
from models.dispatch.escalation import EscalationStep, due_steps, take_step

NAME = "overdue_sweep"


def overdue_sweep(app: Flask) -> dict:
    """Take every escalation step that is due now; returns counts per step and of notices."""
    counts = {step.value: 0 for step in EscalationStep} | {"notices": 0}
    failed = 0
    with app.app_context(), audit.acting_as(audit.JOBS):
        ladder = Ladder.from_config(app.config)
        due = due_steps(clock.now(), fallback=ladder.rungs)
        db.session.rollback()
        for step in due:
            try:
                row = take_step(step, clock.now(), fallback=ladder.rungs, max_age=ladder.max_age)
                if row is None:
                    db.session.rollback()
                    continue
                delay = (row.recorded_at - row.due_at).total_seconds()
                notices = row.notices
                db.session.commit()
            except Exception:
                db.session.rollback()
                failed += 1
                log.exception(
                    kv(job=NAME, step=step.key, dispatch=step.dispatch_id, result="error")
                )
                continue
            counts[step.step.value] += 1
            counts["notices"] += notices
            log.info(
                kv(
                    job=NAME,
                    step=step.key,
                    dispatch=step.dispatch_id,
                    notices=notices,
                    delay_s=f"{delay:.1f}",
                )
            )
    if failed:
        raise RuntimeError(f"{failed} escalation step(s) failed; " + kv(**counts))
    return counts
