"""The scheduler: APScheduler 3 runs every job in `job_specs()` in the one process that holds
the scheduler lock (see jobs.leadership); other copies stand by.

`citydesk jobs` runs it as a process of its own; `citydesk serve` starts it inside the serving
process (`start_in_process`, at most once per process). `create_app()` never starts it, so
gunicorn workers never do. `run_once()` runs every job once (`citydesk jobs --once`).
"""

import threading
import time
import traceback
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from jobs import kv, log, summary
from jobs.config import SchedulerSettings
from jobs.leadership import Leadership, leadership_for, new_holder
from jobs.records import job_statuses, record_run
from models.core import clock, db
from models.core.outbox import release_claims

# A job due again within this many seconds runs again in the same thread after a short sleep;
# a later one is rescheduled. (APScheduler would skip a run that fires while the job's previous
# run is still finishing: max_instances is 1.)
INLINE_WAIT = 0.05


@dataclass(frozen=True)
class JobSpec:
    """A job and when it runs: every N seconds, or daily at HH:MM Taipei time."""

    name: str
    func: object  # callable(app) -> dict
    every: float | None = None
    daily_at: tuple[int, int] | None = None
    # callable(app) -> seconds until the job has work again (None: nothing known): the runner
    # wakes it then when that comes before its next tick (the sweep: the next deadline).
    next_due: object = None

    def describe(self) -> str:
        """The schedule as stored for the admin page: `every:5` or `daily:03:30`."""
        if self.every is not None:
            return f"every:{self.every:g}"
        hour, minute = self.daily_at
        return f"daily:{hour:02d}:{minute:02d}"

    def trigger(self):
        """The APScheduler trigger."""
        if self.every is not None:
            return IntervalTrigger(seconds=self.every, timezone=UTC)
        hour, minute = self.daily_at
        return CronTrigger(hour=hour, minute=minute, timezone=clock.TAIPEI)


def job_specs(app: Flask) -> list[JobSpec]:
    """Every scheduled job, in the order `--once` runs them."""
    from jobs import audit_seal, digest, escalation, facility, relay, retention

    settings = SchedulerSettings.from_config(app.config)
    return [
        JobSpec(
            escalation.NAME,
            escalation.overdue_sweep,
            every=settings.sweep_seconds,
            next_due=escalation.next_due,
        ),
        JobSpec(relay.NAME, relay.relay, every=settings.relay_seconds),
        JobSpec(retention.NAME, retention.erase_expired, daily_at=settings.retention_at),
        # Facility reminders are idempotent per day and per ticket, so running them hourly only
        # catches tickets that became overdue since; rounds are announced each morning.
        JobSpec(facility.OVERDUE_NAME, facility.overdue_tickets, every=3600),
        JobSpec(facility.ROUNDS_NAME, facility.round_reminders, daily_at=(8, 30)),
        # Due on the first working day of a month only; on other days a run does nothing.
        JobSpec(digest.NAME, digest.monthly_digest, daily_at=settings.digest_at),
        # Each commit seals its audit entries; this catches what a crashed process left.
        JobSpec(audit_seal.NAME, audit_seal.seal_pending, every=audit_seal.EVERY_SECONDS),
    ]


@dataclass
class JobOutcome:
    """How one run of a job went."""

    name: str
    ok: bool
    result: str
    duration_ms: int
    counts: dict


def run_job(
    app: Flask, spec: JobSpec, *, holder: str, next_run_at: datetime | None = None
) -> JobOutcome:
    """Run one job, time it, log it, and store its status (for every worker's admin page)."""
    started_at, started = clock.now(), time.monotonic()
    error, counts = None, {}
    try:
        counts = spec.func(app) or {}
        result, ok = summary(counts), True
    except Exception as exc:
        ok, result = False, f"{type(exc).__name__}: {exc}"
        error = traceback.format_exc()
        log.error(kv(job=spec.name, result="failed", error=result))
    duration_ms = int((time.monotonic() - started) * 1000)
    try:
        with app.app_context():
            record_run(
                spec.name,
                schedule=spec.describe(),
                holder=holder,
                started_at=started_at,
                finished_at=clock.now(),
                duration_ms=duration_ms,
                ok=ok,
                result=result,
                error=error,
                next_run_at=next_run_at,
            )
            db.session.commit()
    except Exception as exc:
        log.warning(kv(job=spec.name, status="not recorded", error=exc))
    if ok:
        log.debug(kv(job=spec.name, result=result, duration_ms=duration_ms))
    return JobOutcome(spec.name, ok, result, duration_ms, counts)


def run_once(app: Flask) -> list[JobOutcome]:
    """Run every job once, in order (cron-style deployments and tests)."""
    holder = "once:" + new_holder()
    return [run_job(app, spec, holder=holder) for spec in job_specs(app)]


class JobRunner:
    """APScheduler with leadership: jobs run only while this process holds the scheduler."""

    def __init__(self, app: Flask, *, process: str):
        from jobs import relay

        self.app = app
        self.settings = SchedulerSettings.from_config(app.config)
        self.leadership: Leadership = leadership_for(
            app,
            process=process,
            lease_seconds=self.settings.lease_seconds,
            renew_seconds=self.settings.renew_seconds,
        )
        # The relay stops sending as soon as this process no longer leads (see _run_soon).
        self.specs = [
            replace(spec, func=partial(spec.func, acting=self.leadership.holds))
            if spec.name == relay.NAME
            else spec
            for spec in job_specs(app)
        ]
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                # A run delayed by a busy machine still runs (no grace limit), and a backlog
                # of missed runs collapses into one.
                "coalesce": True,
                "misfire_grace_time": None,
                "max_instances": 1,
            },
        )
        self._started = False
        # APScheduler's shutdown() holds its job-store lock while it waits for running jobs,
        # so a job must not reschedule jobs once shutdown begins: both go through this lock.
        self._control = threading.Lock()
        self._stopping = False

    @property
    def holder(self) -> str:
        """This process's identity in the lease row."""
        return self.leadership.holder

    def start(self) -> None:
        """Start the scheduler thread; the first leadership try is immediate."""
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self._leadership_tick,
            IntervalTrigger(seconds=self.settings.renew_seconds, timezone=UTC),
            id="leadership",
            name="leadership",
            next_run_time=now,
        )
        for spec in self.specs:
            self.scheduler.add_job(
                self._run, spec.trigger(), args=[spec], id=spec.name, name=spec.name
            )
        # Started before the scheduler runs: its first leadership tick (a thread of its own,
        # at once) may take over and wake the catch-up jobs before start() returns, and a wake
        # is dropped while this is False.
        self._started = True
        try:
            self.scheduler.start()
        except BaseException:
            self._started = False
            raise
        log.info(kv(job="scheduler", holder=self.holder, result="started"))

    def _leadership_tick(self) -> None:
        was = self.leadership.is_leader
        if self.leadership.tick() and not was:
            self._run_soon()

    def _run_soon(self) -> None:
        """On taking over: reclaim the old leader's notices, run the frequent jobs now, and a
        daily job missed for a day."""
        # Plain values, read inside the context: the rows are detached once it ends.
        with self.app.app_context():
            started = {name: row.last_started_at for name, row in job_statuses().items()}
            db.session.rollback()
        self._reclaim()
        for spec in self.specs:
            if spec.daily_at is not None:
                last = started.get(spec.name)
                if last and clock.now() - last < timedelta(days=1):
                    continue
            self.wake(spec.name)

    def _reclaim(self) -> None:
        """Make the notices claimed under the previous leader due now, not after their lease.

        We hold the lock only once the previous leader cannot act any more (its lease expired,
        or its lock's connection closed) and its relay stops sending when it stops leading, so
        nobody else is sending them; a resend after a crash keeps its Message-ID /
        Idempotency-Key."""
        try:
            with self.app.app_context():
                reclaimed = release_claims(clock.now())
                db.session.commit()
        except Exception as exc:  # the notices still come back once their lease expires
            log.warning(kv(job="scheduler", holder=self.holder, reclaim="failed", error=exc))
            return
        if reclaimed:
            log.info(kv(job="scheduler", holder=self.holder, reclaimed=reclaimed))

    def _run(self, spec: JobSpec) -> None:
        from jobs import escalation, relay

        while self.leadership.holds():
            # The scheduler's shutdown holds its job-store lock while it waits for running
            # jobs: a job must not ask the scheduler anything once shutdown has begun.
            with self._control:
                if self._stopping:
                    return
                job = self.scheduler.get_job(spec.name)
            outcome = run_job(
                self.app,
                spec,
                holder=self.holder,
                next_run_at=job.next_run_time if job else None,
            )
            if spec.name == escalation.NAME and outcome.counts.get("notices"):
                self.wake(relay.NAME)  # deliver the new notices now, not at the relay's tick
            delay = self._next_due(spec)
            if delay is None or delay > INLINE_WAIT:
                if delay is not None:
                    self.wake(spec.name, after=delay, only_earlier=True)
                return
            time.sleep(delay)  # due in a moment: run again from here (see INLINE_WAIT)

    def _next_due(self, spec: JobSpec) -> float | None:
        """Seconds until the job has work again, by its `next_due` (None: its cadence)."""
        if spec.next_due is None:
            return None
        try:
            return spec.next_due(self.app)
        except Exception as exc:  # the cadence still runs it
            log.warning(kv(job=spec.name, next_due="failed", error=exc))
            return None

    def wake(self, name: str, *, after: float = 0, only_earlier: bool = False) -> None:
        """Run a job as soon as possible (e.g. the relay right after the sweep wrote notices),
        or `after` seconds from now; with `only_earlier`, only if that comes before its next
        scheduled run (its cadence goes on from the earlier run)."""
        at = datetime.now(UTC) + timedelta(seconds=after)
        with self._control:
            if not self._started or self._stopping:
                return
            if only_earlier:
                job = self.scheduler.get_job(name)
                if job is None or (job.next_run_time is not None and job.next_run_time <= at):
                    return
            self.scheduler.modify_job(name, next_run_time=at)

    def shutdown(self) -> None:
        """Stop the scheduler, wait for running jobs, give up leadership."""
        with self._control:
            self._stopping = True
        if self._started:
            self.scheduler.shutdown(wait=True)
            self._started = False
        self.leadership.release()
        log.info(kv(job="scheduler", holder=self.holder, result="stopped"))


_in_process: JobRunner | None = None
_in_process_lock = threading.Lock()


def start_in_process(app: Flask, *, process: str = "serve") -> JobRunner:
    """Start the scheduler inside this process, once: a second call returns the same one."""
    global _in_process
    with _in_process_lock:
        if _in_process is None:
            runner = JobRunner(app, process=process)
            runner.start()
            _in_process = runner
        return _in_process


def stop_in_process() -> None:
    """Stop the in-process scheduler if one runs."""
    global _in_process
    with _in_process_lock:
        if _in_process is not None:
            _in_process.shutdown()
            _in_process = None
