"""Bookkeeping of the scheduler, kept in the database so that every web worker sees it: which
process holds the scheduler lease, and each job's last run, duration, result and next run."""

from datetime import datetime, timedelta

from sqlalchemy import String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from models.core import db
from models.core.sql import insert_ignore


class SchedulerLease(db.Model):
    """Who runs the jobs. On SQLite the row *is* the lock (a lease renewed every few seconds);
    on PostgreSQL an advisory lock decides and the holder writes this row for the admin page."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # "host:pid:token"
    process: Mapped[str] = mapped_column(String(40), default="")  # "citydesk jobs", "serve"
    mode: Mapped[str] = mapped_column(String(20), default="lease")  # or "advisory-lock"
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class JobStatus(db.Model):
    """The latest run of one scheduled job."""

    __tablename__ = "job_status"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100), default="")
    holder: Mapped[str] = mapped_column(String(200), default="")
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_duration_ms: Mapped[int | None]
    last_ok: Mapped[bool | None]
    last_result: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)


SCHEDULER = "scheduler"  # the one lease row's name


def current_lease() -> SchedulerLease | None:
    """The scheduler lease row (who holds or last held the scheduler), if any."""
    return db.session.get(SchedulerLease, SCHEDULER)


def take_lease(holder: str, process: str, at: datetime, seconds: float) -> bool:
    """Renew our lease, or take it when it expired or never existed; True when we hold it
    until `at + seconds`. A conditional UPDATE: of two racing processes exactly one wins."""
    expires = at + timedelta(seconds=seconds)
    renewed = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == SCHEDULER, SchedulerLease.holder == holder)
        .values(renewed_at=at, expires_at=expires)
    )
    if renewed.rowcount == 1:
        return True
    values = {
        "holder": holder,
        "process": process,
        "mode": "lease",
        "acquired_at": at,
        "renewed_at": at,
        "expires_at": expires,
    }
    taken = db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == SCHEDULER, SchedulerLease.expires_at < at)
        .values(**values)
    )
    if taken.rowcount == 1:
        return True
    return (
        insert_ignore(SchedulerLease, {"name": SCHEDULER, **values}, ["name"], SchedulerLease.name)
        is not None
    )


def write_lease(
    holder: str, process: str, mode: str, at: datetime, seconds: float, *, acquired: bool
) -> None:
    """Record that `holder` holds the scheduler (when a database lock, not the row, decides)."""
    values = {"holder": holder, "process": process, "mode": mode, "renewed_at": at}
    values["expires_at"] = at + timedelta(seconds=seconds)
    if acquired:
        values["acquired_at"] = at
    result = db.session.execute(
        update(SchedulerLease).where(SchedulerLease.name == SCHEDULER).values(**values)
    )
    if result.rowcount == 0:
        values.setdefault("acquired_at", at)
        insert_ignore(SchedulerLease, {"name": SCHEDULER, **values}, ["name"], SchedulerLease.name)


def release_lease(holder: str, at: datetime) -> None:
    """Give the lease up at once (a clean shutdown): a standby takes over at its next try."""
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == SCHEDULER, SchedulerLease.holder == holder)
        .values(expires_at=at - timedelta(seconds=1))
    )


def record_run(
    name: str,
    *,
    schedule: str,
    holder: str,
    started_at: datetime,
    finished_at: datetime,
    duration_ms: int,
    ok: bool,
    result: str,
    error: str | None,
    next_run_at: datetime | None,
) -> None:
    """Store a job's latest run (one row per job, any process may write it)."""
    insert_ignore(JobStatus, {"name": name, "runs": 0, "failures": 0}, ["name"], JobStatus.name)
    values = {
        "schedule": schedule,
        "holder": holder,
        "last_started_at": started_at,
        "last_finished_at": finished_at,
        "last_duration_ms": duration_ms,
        "last_ok": ok,
        "last_result": result[:2000],
        "next_run_at": next_run_at,
        "runs": JobStatus.runs + 1,
    }
    if not ok:
        values.update(
            last_error=(error or "")[:4000],
            last_error_at=finished_at,
            failures=JobStatus.failures + 1,
        )
    db.session.execute(update(JobStatus).where(JobStatus.name == name).values(**values))


def job_statuses() -> dict[str, JobStatus]:
    """{job name: its latest run}."""
    return {row.name: row for row in db.session.scalars(select(JobStatus))}
