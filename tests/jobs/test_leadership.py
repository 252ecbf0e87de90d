"""Only one scheduler acts: the SQLite lease and the PostgreSQL advisory lock, in-process."""

import threading
import time

import pytest

from jobs.leadership import AdvisoryLockLeadership, LeaseLeadership, leadership_for
from jobs.records import current_lease, job_statuses
from jobs.scheduler import JobRunner
from models.core import clock, db


def _pair(app, lease=15, renew=5):
    return [
        leadership_for(app, process=f"test-{n}", lease_seconds=lease, renew_seconds=renew)
        for n in (1, 2)
    ]


def test_the_lease_is_held_by_one_and_taken_over_once_it_expires(app, frozen_clock, is_postgres):
    if is_postgres:
        pytest.skip("PostgreSQL uses the advisory lock (test below)")
    first, second = _pair(app)
    assert isinstance(first, LeaseLeadership)
    assert first.tick() and first.holds()
    assert not second.tick() and not second.holds()
    clock.advance(seconds=10)
    assert first.tick()  # renewed
    clock.advance(seconds=14)
    assert not second.tick()  # 14 s after the renewal: still first's
    clock.advance(seconds=2)  # the holder stopped renewing 16 s ago: expired
    assert second.tick() and second.holds()
    assert not first.tick() and not first.holds()  # the old holder learns it lost
    db.session.expire_all()
    assert current_lease().holder == second.holder
    second.release()
    assert first.tick()  # a released lease is free at once
    first.release()


def test_a_holder_stops_acting_when_it_could_not_renew_in_time(app, is_postgres):
    first, _second = _pair(app, lease=1, renew=0.5)
    assert first.tick() and first.holds()
    time.sleep(0.8)  # no renewal for longer than lease - renew/2
    assert not first.holds()
    assert first.tick() and first.holds()
    first.release()
    _second.release()


@pytest.mark.postgres_only(reason="the advisory lock is PostgreSQL's (SQLite uses the lease row)")
def test_the_advisory_lock_is_held_by_one_and_free_when_its_connection_closes(app):
    first, second = _pair(app)
    assert isinstance(first, AdvisoryLockLeadership)
    try:
        assert first.tick()
        assert not second.tick()
        assert first.tick()  # still held
        db.session.expire_all()
        lease = current_lease()
        assert (lease.holder, lease.mode) == (first.holder, "advisory-lock")
        first._conn.invalidate()  # the holder's connection dies (as when its process dies)
        first._conn = None
        # PostgreSQL frees the lock when its backend has seen the socket close, a moment later;
        # the standby retries as it does every JOBS_RENEW_SECONDS.
        deadline = time.monotonic() + 5
        while not second.tick() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.tick()
        assert not first.tick()
        db.session.expire_all()
        assert current_lease().holder == second.holder
    finally:
        first.release()
        second.release()


def test_two_runners_only_the_leader_runs_jobs(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_SWEEP_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "JOBS_RELAY_SECONDS", 0.2)
    monkeypatch.setitem(app.config, "JOBS_LEASE_SECONDS", 2)
    monkeypatch.setitem(app.config, "JOBS_RENEW_SECONDS", 0.2)
    db.session.commit()
    one = JobRunner(app, process="one")
    two = JobRunner(app, process="two")
    one.start()
    deadline = time.monotonic() + 10
    while not one.leadership.holds() and time.monotonic() < deadline:
        time.sleep(0.05)
    two.start()
    try:
        time.sleep(1.5)
        db.session.expire_all()
        statuses = job_statuses()
        assert statuses["overdue_sweep"].holder == one.holder
        assert statuses["outbox_relay"].runs >= 3
        assert not two.leadership.holds()
        assert {s.holder for s in statuses.values()} == {one.holder}
        assert statuses["outbox_relay"].next_run_at > statuses["outbox_relay"].last_started_at
        # The leader shuts down cleanly: the standby takes over at its next try.
        stopped = threading.Thread(target=one.shutdown)
        stopped.start()
        stopped.join(10)
        deadline = time.monotonic() + 5
        while not two.leadership.holds() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert two.leadership.holds()
        time.sleep(0.6)
        db.session.expire_all()
        assert job_statuses()["outbox_relay"].holder == two.holder
    finally:
        one.shutdown()
        two.shutdown()
