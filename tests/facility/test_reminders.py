"""The facility jobs: callable with the app, in or out of its context, and idempotent."""

import threading
from datetime import datetime

from sqlalchemy import func, select

from jobs.facility import run_overdue_tickets, run_round_reminders
from models import facility as fac
from models.core import audit, clock, db
from models.core.outbox import Notification
from tests.facility.support import (
    new_ticket,
)


def count(kind):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(Notification.kind == kind))


def test_overdue_job_runs_twice_and_sends_once(app, create_user, frozen_clock):
    clerk = create_user(role="clerk")
    create_user(role="supervisor")
    clock.freeze(datetime(2024, 3, 4, 9, 0, tzinfo=clock.TAIPEI))
    new_ticket(clerk, category="corridor")  # due 03-05
    clock.freeze(datetime(2024, 3, 7, 9, 0, tzinfo=clock.TAIPEI))
    assert run_overdue_tickets(app) == 1
    assert run_overdue_tickets(app) == 0
    assert count("defect.overdue") == 1
    row = db.session.scalars(select(audit.AuditEntry).where(audit.AuditEntry.actor == "jobs")).all()
    assert row == []  # notices are not audit events; the timeline has the overdue step
    assert [e.actor for e in fac.events_of(db.session.scalar(select(fac.Defect)))][-1] == "jobs"


def test_round_reminder_job_from_another_thread(app, create_user, frozen_clock):
    create_user(role="facility")
    with audit.acting_as(audit.Actor(None, "test")):
        fac.set_plan(fac.zone_by_code("northeast"), 7)
        db.session.commit()
    results = []

    def run():  # no application context in this thread: the job pushes its own
        results.append(run_round_reminders(app))
        results.append(run_round_reminders(app))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert results == [1, 0]
    assert count("round.overdue") == 1
