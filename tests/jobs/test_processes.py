"""End to end with real processes and the real clock: `citydesk serve` runs the jobs, a killed
process loses no notice, and a standby `citydesk jobs` takes over from a dead leader."""

import json
import os
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from jobs.records import current_lease, job_statuses
from models.core import clock, db
from models.core.outbox import Channel, Notification, enqueue
from models.dispatch import Dispatch
from models.dispatch.escalation import DispatchEscalation
from models.reference import agency_by_code, sla_seconds, update_agency
from models.users import create_token, create_user
from tests.conftest import TEST_AUDIT_KEY, TEST_PASSWORD, free_port
from tests.jobs.conftest import Process

pytestmark = pytest.mark.alone  # real processes against the real clock


def _env(instance: Path, database_url: str | None = None, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env["CITYDESK_INSTANCE_PATH"] = str(instance)
    env["CITYDESK_AUDIT_KEY"] = TEST_AUDIT_KEY  # one key for every process, as in production
    if database_url:
        env["DATABASE_URL"] = database_url
    for key, value in settings.items():
        env[f"CITYDESK_{key}"] = str(value)
    return env


def wait_until(predicate, seconds: float, what: str, process: Process | None = None):
    """Poll `predicate` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise AssertionError(f"process exited while waiting for {what}:\n{process.output()}")
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def _serve(processes, instance_dir, log_name, port, **settings):
    env = _env(instance_dir, **settings)
    process = processes(["serve", "--port", str(port)], env, instance_dir / log_name)
    wait_until(lambda: _answers(f"http://127.0.0.1:{port}/login"), 60, "serve", process)
    return process


def _overdue_dispatch_in(app, **fields) -> int:
    """Insert a dispatch into that instance's database (for now as the dispatch area's API
    will), its SLA the one in force: deadline_at = notified_at + SLA."""
    with app.app_context():
        sla = sla_seconds()
        now = clock.now()
        dispatch = Dispatch(
            agency=agency_by_code("social-welfare"),
            subject="2 秒時限測試",
            state="notified",
            notified_at=now,
            sla_seconds=sla,
            deadline_at=now + timedelta(seconds=sla),
            **fields,
        )
        db.session.add(dispatch)
        db.session.commit()
        return dispatch.id


def _notify_through_the_api(app, port: int) -> int:
    """A clerk logs a visit with 社會局 through the running server's API: it is notified at once
    by that process, on its clock and with the SLA it has in force."""
    with app.app_context():
        clerk = create_user("counter", TEST_PASSWORD, "clerk")
        _row, token = create_token(clerk, "e2e")
        db.session.commit()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/visits",
        data=json.dumps(
            {"kind": "petition", "subject": "2 秒時限測試", "agency": "social-welfare"}
        ).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201, response.status
        return json.loads(response.read())["dispatch"]["id"]


def test_serve_marks_a_two_second_dispatch_overdue_within_20_seconds(processes, instance):
    instance_dir, app = instance
    port = free_port()
    # The defaults (sweep every 5 s, relay every 2 s): the measured delay is the real one.
    server = _serve(processes, instance_dir, "serve.log", port, DISPATCH_SLA_SECONDS=2)
    with app.app_context():
        staff = create_user("lin", TEST_PASSWORD, "agency", agency="social-welfare")
        db.session.commit()
        staff_id = staff.id
    dispatch_id = _notify_through_the_api(app, port)

    def breach():
        with app.app_context():
            return db.session.scalar(
                sa.select(DispatchEscalation).where(
                    DispatchEscalation.dispatch_id == dispatch_id,
                    DispatchEscalation.step == "breach",
                )
            )

    row = wait_until(breach, 25, "the breach record", server)
    with app.app_context():
        dispatch = db.session.get(Dispatch, dispatch_id)
        assert dispatch.sla_seconds == 2
        assert dispatch.is_overdue()
        delay = (row.recorded_at - dispatch.deadline_at).total_seconds()
        notice = db.session.scalar(
            sa.select(Notification).where(
                Notification.event_key == f"dispatch:{dispatch_id}:breach",
                Notification.user_id == staff_id,
            )
        )
        assert notice is not None and notice.kind == "dispatch.breach"
        assert (notice.created_at - dispatch.deadline_at).total_seconds() <= 20
    print(f"\nmeasured breach delay: {delay:.2f} s after the deadline")
    assert 0 < delay <= 20

    def delivered():
        with app.app_context():
            return db.session.get(Notification, notice.id).state == "sent"

    wait_until(delivered, 10, "the in-app breach notice to be delivered", server)
    with app.app_context():
        statuses = job_statuses()
        assert statuses["overdue_sweep"].last_ok
        assert str(server.pid) in statuses["overdue_sweep"].holder
        assert current_lease().process == "citydesk serve"
    assert "job=overdue_sweep step=breach dispatch=" in server.output()


def test_killing_serve_between_commit_and_delivery_loses_nothing(processes, instance, smtp_server):
    instance_dir, app = instance
    settings = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server.port,
        "MAIL_SENDER": "citydesk@city.example",
        "MAIL_TIMEOUT": 1,
        "WEBHOOK_TIMEOUT": 1,
        "OUTBOX_LEASE_SECONDS": 3,  # a claim by a dead relay returns to the queue after 3 s
        "JOBS_RELAY_SECONDS": 0.5,
        "JOBS_LEASE_SECONDS": 2,  # the restarted process takes the scheduler over after 2 s
        "JOBS_RENEW_SECONDS": 0.5,
    }
    port = free_port()
    smtp_server.inbox.stall.set()  # the first SMTP session hangs in RCPT TO
    first = _serve(processes, instance_dir, "first.log", port, **settings)
    with app.app_context():
        update_agency(agency_by_code("social-welfare"), emails="desk@sw.example")
        db.session.commit()
    # The dispatch and its notice are committed together (as notify() does) ...
    with app.app_context():
        now = clock.now()
        dispatch = Dispatch(
            agency=agency_by_code("social-welfare"),
            subject="斷電測試",
            state="notified",
            notified_at=now,
            sla_seconds=600,
            deadline_at=now + timedelta(seconds=600),
        )
        db.session.add(dispatch)
        db.session.flush()
        dispatch_id = dispatch.id
        enqueue(
            f"dispatch:{dispatch_id}:notified",
            "dispatch.notified",
            Channel.EMAIL,
            "desk@sw.example",
            {"dispatch_id": dispatch_id, "path": f"/agency/dispatches/{dispatch_id}"},
            dispatch_id=dispatch_id,
        )
        db.session.commit()

    # ... the relay claims it and is talking to the mail server when the process dies.
    wait_until(smtp_server.inbox.stalled.is_set, 15, "the relay to start sending", first)

    def state():
        with app.app_context():
            return db.session.scalar(
                sa.select(Notification.state).where(Notification.dispatch_id == dispatch_id)
            )

    assert state() == "sending"
    first.kill()
    smtp_server.inbox.stall.clear()
    assert smtp_server.messages == []
    assert state() == "sending"

    second = _serve(processes, instance_dir, "second.log", port, **settings)
    wait_until(lambda: smtp_server.messages, 30, "the notice after the restart", second)
    time.sleep(2)  # several more relay runs: nothing is sent again
    assert len(smtp_server.messages) == 1
    [(rcpts, mail)] = smtp_server.messages
    assert rcpts == ["desk@sw.example"]
    assert mail["X-CityDesk-Event"] == f"dispatch:{dispatch_id}:notified"
    assert f"/agency/dispatches/{dispatch_id}" in mail.get_content()
    with app.app_context():
        row = db.session.scalar(
            sa.select(Notification).where(Notification.dispatch_id == dispatch_id)
        )
        assert (row.state, row.attempts) == ("sent", 2)


def test_a_standby_jobs_process_takes_over_when_the_leader_dies(
    processes, tmp_path, database_url, is_postgres
):
    env = _env(
        tmp_path,
        database_url,
        JOBS_LEASE_SECONDS=4,
        JOBS_RENEW_SECONDS=0.5,
        JOBS_SWEEP_SECONDS=0.5,
        JOBS_RELAY_SECONDS=0.5,
    )
    db.session.commit()

    def holder_pid():
        db.session.expire_all()
        lease = current_lease()
        db.session.rollback()
        if lease is None or lease.expires_at <= clock.now():
            return None
        return int(lease.holder.split(":")[1])

    leader = processes(["jobs"], env, tmp_path / "leader.log")
    wait_until(lambda: holder_pid() == leader.pid, 30, "the first process to lead", leader)
    standby = processes(["jobs"], env, tmp_path / "standby.log")
    wait_until(lambda: "standing by" in standby.output(), 30, "the standby to start", standby)
    time.sleep(2)
    assert holder_pid() == leader.pid  # the standby does not act while the leader lives
    db.session.expire_all()
    assert str(leader.pid) in job_statuses()["overdue_sweep"].holder

    leader.kill()
    killed_at = time.monotonic()
    wait_until(lambda: holder_pid() == standby.pid, 30, "the standby to take over", standby)
    took = time.monotonic() - killed_at
    print(f"\nstandby took over {took:.1f} s after the leader was killed")
    assert took < 30

    # The new leader acts: an overdue dispatch gets its breach record.
    dispatch = Dispatch(
        agency=agency_by_code("health"),
        subject="接手測試",
        state="notified",
        notified_at=clock.now() - timedelta(minutes=11),
        sla_seconds=600,
        deadline_at=clock.now() - timedelta(minutes=1),
    )
    db.session.add(dispatch)
    db.session.commit()
    dispatch_id = dispatch.id

    def breached():
        db.session.expire_all()
        found = db.session.scalar(
            sa.select(DispatchEscalation.id).where(DispatchEscalation.dispatch_id == dispatch_id)
        )
        db.session.rollback()
        return found

    wait_until(breached, 10, "the new leader's sweep", standby)

    def swept_by_standby():  # the run's record is written once the sweep has committed
        db.session.expire_all()
        holder = job_statuses()["overdue_sweep"].holder
        db.session.rollback()
        return str(standby.pid) in holder

    wait_until(swept_by_standby, 10, "the new leader's sweep to be recorded", standby)
    assert str(standby.pid) in job_statuses()["overdue_sweep"].holder
    assert standby.stop() == 0  # a clean stop (SIGTERM) releases the lock
    assert holder_pid() is None
    expected_mode = "advisory-lock" if is_postgres else "lease"
    assert f"mode={expected_mode}" in standby.output()
