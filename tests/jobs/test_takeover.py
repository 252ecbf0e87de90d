"""A new scheduler leader catches up: it runs the jobs a dead leader left, and reclaims the
notices that leader had claimed at once instead of waiting for their lease."""

import threading
import time
from datetime import timedelta

from jobs import facility, relay, retention
from jobs.config import RelaySettings
from jobs.records import SCHEDULER, SchedulerLease, job_statuses, record_run
from jobs.scheduler import JobRunner, job_specs
from models.core import clock, db
from models.core.outbox import Channel, enqueue
from tests.jobs.conftest import notices

DEAD = "dead-host:4242:abcdef"


def _slow_schedule(app, monkeypatch):
    """Intervals longer than the test: a job that runs in it ran as a takeover catch-up."""
    monkeypatch.setitem(app.config, "JOBS_SWEEP_SECONDS", 10)
    monkeypatch.setitem(app.config, "JOBS_RELAY_SECONDS", 60)
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 2)
    monkeypatch.setitem(app.config, "JOBS_RENEW_SECONDS", 0.2)


def _dead_leader_held_the_scheduler():
    """The lease row of a leader that died (its lease expired; on PostgreSQL its lock is free)."""
    at = clock.now() - timedelta(seconds=30)
    db.session.add(
        SchedulerLease(
            name=SCHEDULER,
            holder=DEAD,
            process="citydesk jobs",
            mode="lease",
            acquired_at=at - timedelta(hours=3),
            renewed_at=at,
            expires_at=at + timedelta(seconds=15),
        )
    )


def _wait(condition, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        db.session.rollback()
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_new_leader_runs_the_catch_ups_from_existing_job_status_rows(app, monkeypatch):
    _slow_schedule(app, monkeypatch)
    now = clock.now()
    last_run = {
        retention.NAME: now - timedelta(days=2),  # missed for a day: run at takeover
        facility.ROUNDS_NAME: now - timedelta(hours=25),  # missed for a day: run at takeover
        facility.OVERDUE_NAME: now - timedelta(minutes=10),  # frequent: always run
    }
    for spec in job_specs(app):
        started = last_run.get(spec.name, now - timedelta(seconds=5))
        record_run(
            spec.name,
            schedule=spec.describe(),
            holder=DEAD,
            started_at=started,
            finished_at=started + timedelta(seconds=1),
            duration_ms=1000,
            ok=True,
            result="ok",
            error=None,
            next_run_at=None,
        )
    _dead_leader_held_the_scheduler()
    db.session.commit()

    runner = JobRunner(app, process="new leader")
    runner.start()
    try:
        caught_up = [retention.NAME, facility.ROUNDS_NAME, facility.OVERDUE_NAME]
        assert _wait(
            lambda: all(job_statuses()[name].holder == runner.holder for name in caught_up)
        ), {name: s.holder for name, s in job_statuses().items()}
        statuses = job_statuses()
        for name in caught_up:
            assert statuses[name].runs == 2 and statuses[name].last_ok, name
            assert statuses[name].last_started_at > now, name
    finally:
        runner.shutdown()


def test_a_daily_job_run_within_the_day_is_not_run_again_at_takeover(app, monkeypatch):
    _slow_schedule(app, monkeypatch)
    now = clock.now()
    for spec in job_specs(app):
        record_run(
            spec.name,
            schedule=spec.describe(),
            holder=DEAD,
            started_at=now - timedelta(hours=1),
            finished_at=now - timedelta(hours=1),
            duration_ms=10,
            ok=True,
            result="ok",
            error=None,
            next_run_at=None,
        )
    db.session.commit()

    runner = JobRunner(app, process="new leader")
    runner.start()
    try:
        assert _wait(lambda: job_statuses()[facility.OVERDUE_NAME].holder == runner.holder)
        time.sleep(0.5)
        db.session.expire_all()
        statuses = job_statuses()
        assert statuses[retention.NAME].holder == DEAD
        assert statuses[facility.ROUNDS_NAME].holder == DEAD
    finally:
        runner.shutdown()


def _email_notice(app, dispatch_row, address="desk@sw.example") -> int:
    dispatch = dispatch_row(sla=600)
    notice = enqueue(
        f"dispatch:{dispatch.id}:notified",
        "dispatch.notified",
        Channel.EMAIL,
        address,
        {"dispatch_id": dispatch.id},
        dispatch_id=dispatch.id,
    )
    db.session.commit()
    return notice.id


def _claimed_by_the_dead_leader(app, monkeypatch, dispatch_row) -> int:
    """An e-mail notice the dead leader's relay claimed, then died before sending (its lease
    has 2 minutes), and that leader's expired scheduler lease; the notice's id."""
    _slow_schedule(app, monkeypatch)
    monkeypatch.setitem(app.config, "OUTBOX_LEASE_SECONDS", 120)
    notice_id = _email_notice(app, dispatch_row)
    settings = RelaySettings.from_config(app.config)
    assert relay.claim(settings, [Channel.EMAIL.value]) == [(notice_id, 1)]
    _dead_leader_held_the_scheduler()
    db.session.commit()
    return notice_id


def test_a_notice_claimed_by_a_dead_leader_is_sent_once_right_after_takeover(
    app, monkeypatch, mail_to, dispatch_row
):
    notice_id = _claimed_by_the_dead_leader(app, monkeypatch, dispatch_row)
    [row] = notices(channel="email")
    assert row.state == "sending" and row.next_attempt_at > clock.now() + timedelta(seconds=100)
    message_id = f"<citydesk.{notice_id}.{int(row.created_at.timestamp())}@city.example>"

    runner = JobRunner(app, process="new leader")
    started = time.monotonic()
    runner.start()
    try:
        assert len(mail_to.wait_for(1, seconds=10)) == 1
        assert time.monotonic() - started < 10  # not after the claim's 120-second lease
        assert _wait(lambda: notices(channel="email")[0].state == "sent")
    finally:
        runner.shutdown()
    assert relay.relay(app) == {}  # another run sends nothing more
    assert [mail["Message-ID"] for _, mail in mail_to.messages] == [message_id]
    [row] = notices(channel="email")
    assert (row.state, row.attempts) == ("sent", 2)


def test_a_takeover_at_the_first_tick_wakes_the_relay_even_before_start_returns(
    app, monkeypatch, mail_to, dispatch_row
):
    """The scheduler's first leadership tick runs in its own thread as soon as it starts: it may
    take over and wake the catch-up jobs before `start()` has returned. Those wakes count."""
    _claimed_by_the_dead_leader(app, monkeypatch, dispatch_row)
    runner = JobRunner(app, process="new leader")
    start_scheduler, take_over = runner.scheduler.start, runner._run_soon
    taken_over = threading.Event()

    def take_over_and_tell():
        take_over()
        taken_over.set()

    def start_and_let_the_first_tick_take_over(*args, **kwargs):
        start_scheduler(*args, **kwargs)
        taken_over.wait(5)  # its takeover (reclaim, wakes) is done before start() returns

    runner._run_soon = take_over_and_tell
    runner.scheduler.start = start_and_let_the_first_tick_take_over
    started = time.monotonic()
    try:  # asserted after start(): a failure inside it would leave the scheduler running
        runner.start()
        assert taken_over.is_set() and runner.leadership.is_leader
        assert len(mail_to.wait_for(1, seconds=10)) == 1
        assert time.monotonic() - started < 10  # not at the relay's 60-second cadence
    finally:
        runner.shutdown()


def test_a_relay_whose_scheduler_stopped_leading_sends_nothing(app, mail_to, dispatch_row):
    _email_notice(app, dispatch_row)
    db.session.commit()
    assert relay.relay(app, acting=lambda: False) == {}
    assert mail_to.messages == []
    [row] = notices(channel="email")
    assert (row.state, row.attempts) == ("pending", 0)
