"""Breaches under a burst (issue 14): the sweep takes every due dispatch in one pass with a
bounded number of statements, in-app notices are visible as soon as it commits, it wakes at the
next deadline, and the relay sends a batch of mails over one SMTP connection."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from jobs import escalation
from jobs.escalation import overdue_sweep
from jobs.records import job_statuses
from jobs.relay import relay
from jobs.scheduler import JobRunner
from models.core import clock, db
from models.core.notices import notifications_for, unread_count
from models.core.outbox import Channel, enqueue
from models.dispatch import Dispatch, DispatchState
from models.dispatch.escalation import DispatchEscalation
from models.reference import agency_by_code
from tests.jobs.conftest import notices


def _dispatches(count: int, *, sla: int = 600) -> list[int]:
    """`count` dispatches to social-welfare notified now, in one commit."""
    agency = agency_by_code("social-welfare")
    rows = [
        Dispatch(
            agency=agency,
            subject=f"陳情 {n}",
            state=DispatchState.NOTIFIED.value,
            notified_at=clock.now(),
            sla_seconds=sla,
            deadline_at=clock.now() + timedelta(seconds=sla),
        )
        for n in range(count)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


class _Statements:
    """Counts the SQL statements sent to the database while active."""

    def __init__(self):
        self.count = 0

    def __call__(self, *args):
        self.count += 1

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def _sweep_counting(run) -> tuple[dict, int]:
    db.session.commit()
    with _Statements() as statements:
        result = run(overdue_sweep)
    return result, statements.count


def test_one_sweep_records_every_due_breach_with_a_bounded_number_of_statements(
    frozen_clock, run, agency_contacts, create_user, monkeypatch, app
):
    monkeypatch.setitem(app.config, "ESCALATION_REMINDER_SECONDS", None)  # breaches only
    monkeypatch.setitem(app.config, "ESCALATION_CHIEF_SECONDS", None)
    create_user(role="supervisor", email="boss@city.example")
    _dispatches(5)
    clock.advance(seconds=601)
    few, few_statements = _sweep_counting(run)
    assert few["breach"] == 5

    ids = _dispatches(500)
    clock.advance(seconds=601)
    many, many_statements = _sweep_counting(run)

    assert many["breach"] == 500  # every one of them in this one sweep call
    recorded = db.session.scalars(
        sa.select(DispatchEscalation.dispatch_id).where(DispatchEscalation.step == "breach")
    ).all()
    assert set(ids) <= set(recorded) and len(recorded) == 505
    assert many["notices"] == 500 * 7  # 2 staff, 2 addresses, a webhook, the supervisor twice
    # A hundred times the breaches, not a hundred times the statements: one locking SELECT,
    # one INSERT of step records, one of notices, the counts and the audit rows per pass (the
    # same statements on PostgreSQL; SQLite sends a long INSERT in a few batches).
    assert many_statements <= few_statements + 6, (few_statements, many_statements)
    assert many_statements <= 20
    assert run(overdue_sweep)["breach"] == 0  # and nothing twice


def test_in_app_breach_notices_are_visible_when_the_sweep_commits_without_the_relay(
    frozen_clock, run, agency_contacts, create_user, dispatch_row
):
    supervisor = create_user(role="supervisor", email="boss@city.example")
    dispatch = dispatch_row(sla=600)
    clock.advance(seconds=601)
    run(overdue_sweep)

    for user in [*agency_contacts, supervisor]:
        assert unread_count(user) == 1
        [notice] = db.session.scalars(notifications_for(user)).all()
        assert notice.event_key == f"dispatch:{dispatch.id}:breach"
        assert (notice.state, notice.attempts, notice.sent_at) == ("sent", 1, clock.now())
    waiting = notices(state="pending")
    assert {n.channel for n in waiting} == {"email", "webhook"}

    # The relay delivers the rest and leaves the in-app notices alone (never a second time).
    clock.advance(seconds=1)
    run(relay)
    in_app = notices(channel="in_app")
    assert len(in_app) == 3
    assert {(n.attempts, n.sent_at) for n in in_app} == {(1, clock.now() - timedelta(seconds=1))}
    assert all(unread_count(user) == 1 for user in [*agency_contacts, supervisor])


def test_the_sweep_computes_its_next_wake_from_the_next_deadline(
    app, frozen_clock, run, dispatch_row, agency_contacts
):
    assert escalation.next_due(app) is None  # no open dispatch: only the cadence runs it
    dispatch_row(sla=600)
    assert escalation.next_due(app) == pytest.approx(420)  # the reminder, 3 min before
    clock.advance(seconds=420)
    assert run(overdue_sweep)["reminder"] == 1
    # Then the breach: just after the deadline (a breach is due strictly after it).
    assert escalation.next_due(app) == pytest.approx(180.001)
    clock.advance(seconds=177)
    assert escalation.next_due(app) == pytest.approx(3.001)
    clock.advance(seconds=3.001)
    assert run(overdue_sweep)["breach"] == 1
    assert escalation.next_due(app) == pytest.approx(300)  # the chief, 5 min after it
    clock.advance(seconds=300)
    assert run(overdue_sweep)["chief"] == 1
    assert escalation.next_due(app) is None  # every step taken


def test_the_scheduler_wakes_the_sweep_at_the_next_deadline_not_its_cadence(
    app, frozen_clock, dispatch_row, agency_contacts, monkeypatch
):
    monkeypatch.setitem(app.config, "JOBS_SWEEP_SECONDS", 10)
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 2)
    monkeypatch.setitem(app.config, "JOBS_RENEW_SECONDS", 0.2)
    # Its deadline 3 s ahead (its reminder is due now: the first sweep takes it).
    dispatch_row(sla=600, notified_at=clock.now() - timedelta(seconds=597))
    runner = JobRunner(app, process="test")
    runner.start()  # it takes the lead and runs the sweep at once
    try:
        limit = time.monotonic() + 20
        while not _sweep_runs() and time.monotonic() < limit:
            time.sleep(0.05)
        assert _sweep_runs(), "the sweep never ran"
        # Right after that run the sweep is due again at the deadline, 3 s after the frozen
        # now (less the time since), not at its 10 s cadence.
        waits = []
        limit = time.monotonic() + 2
        while time.monotonic() < limit:
            job = runner.scheduler.get_job("overdue_sweep")
            waits.append((job.next_run_time - datetime.now(UTC)).total_seconds())
            if 0.5 < waits[-1] <= 3.1:
                break
            time.sleep(0.02)
        assert 0.5 < waits[-1] <= 3.1, waits[-5:]
    finally:
        runner.shutdown()


def _sweep_runs() -> int:
    db.session.rollback()
    status = job_statuses().get("overdue_sweep")
    return status.runs if status is not None else 0


def test_the_relay_sends_a_batch_of_mails_over_one_smtp_connection(
    frozen_clock, run, mail_to, app, monkeypatch
):
    monkeypatch.setitem(app.config, "OUTBOX_BATCH_SIZE", 10)  # three claims, one connection
    for n in range(30):
        enqueue(f"test:{n}", "test.notice", Channel.EMAIL, f"p{n}@city.example", {"title": "Hi"})
    db.session.commit()
    before = mail_to.inbox.connections  # aiosmtpd's controller checks its own server once
    assert run(relay) == {"sent": 30}
    assert len(mail_to.messages) == 30
    assert mail_to.inbox.connections - before == 1
    assert mail_to.inbox.sessions == 1
    assert {n.state for n in notices()} == {"sent"}
