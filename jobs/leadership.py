"""Which process runs the jobs: exactly one across every machine sharing a database.

PostgreSQL: a session advisory lock held on a dedicated connection. If the holder dies its
connection closes and the lock is free at once; a standby tries every few seconds. SQLite (one
machine): a lease row that the holder renews every `JOBS_RENEW_SECONDS`; a standby takes it
once it is `JOBS_LEASE_SECONDS` old. Either way the holder writes the lease row, so the admin
page can say who holds the scheduler.

A holder acts only while its last successful renewal is recent (`holds()`): a process that
stalls longer than the lease stops acting before anybody else can take over.
"""

import abc
import os
import secrets
import socket
import threading
import time

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

from jobs import kv, log
from jobs.records import release_lease, take_lease, write_lease
from models.core import clock, db

# The advisory lock's key (any 64-bit number no other lock in the database uses).
ADVISORY_KEY = 0x43_44_4A_4F_42_53  # "CDJOBS"


def new_holder() -> str:
    """An identity for this process: host:pid:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leadership(abc.ABC):
    """Take, keep and give up the scheduler; subclasses hold it differently."""

    mode = "lease"

    def __init__(self, app: Flask, *, process: str, lease_seconds: float, renew_seconds: float):
        self.app = app
        self.process = process
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.holder = new_holder()
        self.is_leader = False
        self._valid_until = 0.0  # monotonic instant until which we may act
        self._lock = threading.Lock()

    def holds(self) -> bool:
        """True while this process may act as the scheduler."""
        return self.is_leader and time.monotonic() < self._valid_until

    def tick(self) -> bool:
        """Try to take or renew leadership; returns whether we hold it now."""
        with self._lock:
            started = time.monotonic()
            try:
                held = self._try()
            except Exception as exc:
                log.warning(kv(job="leadership", holder=self.holder, result="error", error=exc))
                held = False
                self._reset()
            was = self.is_leader
            self.is_leader = held
            if held:
                # Act for less than the lease: a standby may take over once it has expired.
                self._valid_until = started + self.lease_seconds - self.renew_seconds / 2
            if held and not was:
                log.info(kv(job="leadership", holder=self.holder, mode=self.mode, result="leader"))
            elif was and not held:
                log.warning(kv(job="leadership", holder=self.holder, result="lost"))
            return held

    def release(self) -> None:
        """Give leadership up (a clean shutdown): a standby takes over at its next try."""
        with self._lock:
            if self.is_leader:
                try:
                    with self.app.app_context():
                        release_lease(self.holder, clock.now())
                        db.session.commit()
                except Exception as exc:
                    log.warning(kv(job="leadership", holder=self.holder, error=exc))
            self.is_leader = False
            self._valid_until = 0.0
            self._reset()
            log.info(kv(job="leadership", holder=self.holder, result="released"))

    @abc.abstractmethod
    def _try(self) -> bool:
        """Take or renew the lock; True while this process holds it."""

    def _reset(self) -> None:  # noqa: B027 (a hook: only the advisory lock holds something)
        """Drop whatever holds the lock (a connection)."""


class LeaseLeadership(Leadership):
    """A lease row renewed every few seconds (SQLite, one machine)."""

    mode = "lease"

    def _try(self) -> bool:
        with self.app.app_context():
            held = take_lease(self.holder, self.process, clock.now(), self.lease_seconds)
            db.session.commit()
            return held


class AdvisoryLockLeadership(Leadership):
    """A PostgreSQL session advisory lock on a connection of its own."""

    mode = "advisory-lock"

    def __init__(self, app: Flask, **kwargs):
        super().__init__(app, **kwargs)
        with app.app_context():
            url = db.engine.url
        self._engine = sa.create_engine(
            url,
            poolclass=NullPool,
            connect_args={
                "application_name": "citydesk-scheduler",
                "connect_timeout": 10,
                "keepalives": 1,
                "keepalives_idle": 10,
                "keepalives_interval": 5,
                "keepalives_count": 3,
            },
        )
        self._conn: sa.Connection | None = None
        self._locked = False

    def _try(self) -> bool:
        if self._conn is None:
            self._conn = self._engine.connect()
            self._locked = False  # a lock belongs to the connection that took it
        if self._locked:
            # A session lock lives as long as its connection: a live connection still holds it.
            self._conn.execute(sa.text("SELECT 1"))
            self._conn.commit()
        else:
            self._locked = bool(
                self._conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                ).scalar()
            )
            self._conn.commit()
        if self._locked:
            with self.app.app_context():
                write_lease(
                    self.holder,
                    self.process,
                    self.mode,
                    clock.now(),
                    self.lease_seconds,
                    acquired=not self.is_leader,
                )
                db.session.commit()
        return self._locked

    def _reset(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if self._locked:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                    conn.commit()
            except Exception as exc:  # the connection is gone: so is the lock
                log.debug(kv(job="leadership", unlock="skipped", error=exc))
            finally:
                conn.close()
        self._locked = False

    def release(self) -> None:
        """Unlock, close the lock's connection and mark the lease row expired."""
        super().release()
        self._engine.dispose()


def leadership_for(app: Flask, *, process: str, lease_seconds: float, renew_seconds: float):
    """The right kind of leadership for the configured database."""
    with app.app_context():
        dialect = db.engine.dialect.name
    kind = AdvisoryLockLeadership if dialect == "postgresql" else LeaseLeadership
    return kind(app, process=process, lease_seconds=lease_seconds, renew_seconds=renew_seconds)
