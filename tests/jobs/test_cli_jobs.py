"""`citydesk jobs --once`, clear messages for bad settings, and no scheduler in create_app()."""

import threading

import pytest

from jobs.records import job_statuses
from models.core import clock
from models.dispatch.escalation import breaches_for
from models.reference import agency_by_code, update_agency
from tests.conftest import make_app
from tests.jobs.conftest import notices


def test_jobs_once_runs_every_job_and_exits(run_cli, dispatch_row, mail_to, create_user):
    update_agency(agency_by_code("social-welfare"), emails="desk@sw.example")
    staff_id = create_user(role="agency", agency="social-welfare").id
    dispatch_id = dispatch_row(sla=60, notified_at=clock.now() - _secs(61)).id

    result = run_cli("jobs", "--once")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # one summary line a job (log lines go to stderr)
    assert lines[0].startswith("overdue_sweep: ok ") and "breach=1" in lines[0]
    # The e-mail; the in-app notice was delivered with the breach itself.
    assert lines[1].startswith("outbox_relay: ok ") and "sent=1" in lines[1]
    assert lines[2].startswith("retention: ok erased=0")
    assert lines[3].startswith("overdue_tickets: ok notices=0")
    assert lines[4].startswith("round_reminders: ok ")
    assert lines[5].startswith("monthly_digest: ok ")  # sends only when due (test_digest)
    assert lines[6].startswith("audit_seal: ok sealed=0")  # each commit sealed its entries
    assert dispatch_id in breaches_for([dispatch_id])
    assert {n.state for n in notices(dispatch_id=dispatch_id)} == {"sent"}
    assert notices(user_id=staff_id)[0].state == "sent"
    assert len(mail_to.inbox.to("desk@sw.example")) == 1
    statuses = job_statuses()
    assert set(statuses) == {
        "overdue_sweep",
        "outbox_relay",
        "retention",
        "overdue_tickets",
        "round_reminders",
        "monthly_digest",
        "audit_seal",
    }
    assert all(s.last_ok and s.holder.startswith("once:") for s in statuses.values())

    assert run_cli("jobs", "--once").exit_code == 0  # again: nothing new is sent
    assert len(mail_to.messages) == 1


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("JOBS_SWEEP_SECONDS", "soon", "CITYDESK_JOBS_SWEEP_SECONDS must be a number"),
        ("JOBS_SWEEP_SECONDS", 60, "CITYDESK_JOBS_SWEEP_SECONDS must be between 0.1 and 10"),
        ("MAIL_USE_SSL", True, "Set only one of CITYDESK_MAIL_USE_TLS"),
        ("MAIL_PORT", "smtp", "CITYDESK_MAIL_PORT must be a number"),
        ("RETENTION_DAYS", 0, "CITYDESK_RETENTION_DAYS must be at least 1"),
        ("ESCALATION_REMINDER_SECONDS", -5, "CITYDESK_ESCALATION_REMINDER_SECONDS must be"),
        ("JOBS_RETENTION_AT", "3 am", "CITYDESK_JOBS_RETENTION_AT must be HH:MM"),
    ],
)
def test_bad_settings_stop_with_a_clear_message(run_cli, app, monkeypatch, key, value, message):
    monkeypatch.setitem(app.config, "MAIL_USE_TLS", key == "MAIL_USE_SSL")
    monkeypatch.setitem(app.config, key, value)
    result = run_cli("jobs", "--once")
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_failing_job_is_reported_and_the_exit_code_says_so(run_cli, app, monkeypatch):
    import jobs.retention

    def broken(_app):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs.retention, "erase_expired", broken)
    result = run_cli("jobs", "--once")
    assert result.exit_code == 1
    assert "retention: FAILED RuntimeError: disk on fire" in result.output
    status = job_statuses()["retention"]
    assert (status.last_ok, status.failures) == (False, 1)
    assert "disk on fire" in status.last_error


def test_create_app_never_starts_a_scheduler(database_url, instance_path):
    before = {t.name for t in threading.enumerate()}
    make_app(database_url, instance_path)
    started = {t.name for t in threading.enumerate()} - before
    assert not any("APScheduler" in name or "ThreadPool" in name for name in started)
    assert started == set()


def _secs(n):
    from datetime import timedelta

    return timedelta(seconds=n)


def test_serve_starts_the_scheduler_once_per_process_and_not_when_switched_off(app, monkeypatch):
    from jobs.scheduler import start_in_process, stop_in_process
    from webapp.cli import _start_jobs

    monkeypatch.setitem(app.config, "RUN_SCHEDULER", False)
    with app.test_request_context():
        assert _start_jobs(app) is None
    try:
        first = start_in_process(app)
        assert start_in_process(app) is first  # a second start (a reload) is the same one
        running = [t for t in threading.enumerate() if "APScheduler" in t.name]
        assert len(running) == 1
    finally:
        stop_in_process()
    assert not any("APScheduler" in t.name for t in threading.enumerate())
