"""Facility jobs: the round reminder and the overdue-ticket notice.

Call them as `run_round_reminders(app)` and `run_overdue_tickets(app)` (daily is enough; more
often does no harm). Each pushes `app`'s application context unless it is already running in
it, acts as "jobs" in the audit trail, commits, and returns how many notices it wrote. Both
are idempotent: every notice has an event key unique per occurrence, so a second run the same
day (or a second scheduler) sends nothing twice. What is due, and the notices, are the domain's
(`models.facility.reminders`); running and scheduling them is this module's.
"""

from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

from models import facility
from models.core import audit, db


@contextmanager
def _in_context(app: Flask | None):
    if has_app_context() and (app is None or current_app._get_current_object() is app):
        yield
        return
    if app is None:
        raise RuntimeError("pass the app, or call inside its application context")
    with app.app_context():
        yield


def _run(app: Flask | None, work) -> int:
    with _in_context(app), audit.acting_as(audit.JOBS):
        try:
            written = work()
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
    return written


def run_round_reminders(app: Flask | None = None) -> int:
    """Notify facility staff of rounds due on the next working day and of overdue rounds."""
    return _run(app, lambda: facility.enqueue_round_reminders(facility.rounds_due()))


def run_overdue_tickets(app: Flask | None = None) -> int:
    """Notify assignees and supervisors of repair tickets past their due date."""
    return _run(
        app,
        lambda: facility.enqueue_overdue_reminders(facility.overdue_tickets(), by=audit.JOBS.name),
    )


ROUNDS_NAME = "round_reminders"
OVERDUE_NAME = "overdue_tickets"


def round_reminders(app: Flask) -> dict:
    """Scheduler entry: the round reminder, with its count for the jobs page."""
    return {"notices": run_round_reminders(app)}


def overdue_tickets(app: Flask) -> dict:
    """Scheduler entry: the overdue-ticket notice, with its count for the jobs page."""
    return {"notices": run_overdue_tickets(app)}
