"""The outbox relay: claims due notices, delivers them (in-app, SMTP e-mail, signed webhook),
and records the outcome. Failures are retried with exponential backoff and jitter; after the
last attempt a notice is dead (an administrator may retry it).

Claiming is safe with any number of relays: one UPDATE moves due rows to `sending` with a lease
(`next_attempt_at` = now + lease) and counts the attempt; on PostgreSQL its subquery takes the
rows `FOR UPDATE SKIP LOCKED`, on SQLite the database's single writer makes it atomic. A relay
that dies leaves its rows `sending` until the lease expires; then another relay claims them
again (a new scheduler leader makes them due at once: `outbox.release_claims`). Only the
claim that is still current (same `attempts`) may record the outcome.
"""

import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import and_, select, update
from sqlalchemy.orm import selectinload

from jobs import kv, log
from jobs.config import RelaySettings
from jobs.delivery import DeliveryFailed, Mailer, WebhookSender
from jobs.messages import Prepared, prepare
from models.core import audit, clock, db
from models.core.outbox import Channel, DeliveryState, Notification
from models.dispatch import Dispatch
from models.reference.webhooks import AddressPolicy

NAME = "outbox_relay"
MAX_RUN_SECONDS = 30.0  # one run stops claiming after this long; the next run continues
# Outcomes are recorded (committed) at least this often while a batch is being delivered: a
# crash loses at most this much of them (those notices go again, with the same Message-ID or
# Idempotency-Key), and a burst costs one commit per interval instead of one per notice.
RECORD_SECONDS = 0.2


def backoff(attempts: int, settings: RelaySettings) -> float:
    """Seconds to wait after failed attempt number `attempts`: exponential, capped, with
    jitter (between half and all of base * 2^(attempts-1)) so retries do not come in herds."""
    delay = min(settings.backoff_max_seconds, settings.backoff_seconds * 2 ** (attempts - 1))
    # Retry jitter, not a secret: a pseudo-random number is right here.
    return delay * random.uniform(0.5, 1.0)  # nosec B311


def _claimable(now, channels: list[str]):
    return and_(
        Notification.channel.in_(channels),
        Notification.state.in_([DeliveryState.PENDING.value, DeliveryState.SENDING.value]),
        Notification.next_attempt_at <= now,
    )


def claim(settings: RelaySettings, channels: list[str]) -> list[tuple[int, int]]:
    """Claim up to a batch of due notices for this relay; [(id, attempts)] in id order."""
    now = clock.now()
    candidates = (
        select(Notification.id)
        .where(_claimable(now, channels))
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(settings.batch_size)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(Notification)
        .where(Notification.id.in_(candidates.scalar_subquery()), _claimable(now, channels))
        .values(
            state=DeliveryState.SENDING.value,
            next_attempt_at=now + timedelta(seconds=settings.lease_seconds),
            attempts=Notification.attempts + 1,
        )
        .returning(Notification.id, Notification.attempts)
        .execution_options(synchronize_session=False)
    )
    rows = db.session.execute(stmt).all()
    db.session.commit()
    return sorted((row[0], row[1]) for row in rows)


def _finish(ready: Prepared, **values) -> bool:
    """Record the outcome if our claim is still the current one (the caller commits); False
    when it was lost."""
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.id == ready.id,
            Notification.state == DeliveryState.SENDING.value,
            Notification.attempts == ready.attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


class _Channels:
    """The transports of one relay run (one SMTP connection, one HTTP client)."""

    def __init__(self, settings: RelaySettings):
        self.settings = settings
        self._mailer: Mailer | None = None
        self._webhooks: WebhookSender | None = None

    def deliver(self, ready: Prepared) -> str:
        if ready.channel == Channel.IN_APP:
            return "delivered"
        if ready.channel == Channel.EMAIL:
            if self._mailer is None:
                self._mailer = Mailer(self.settings.mail)
            self._mailer.send(ready.email, ready.recipient)
            return "sent"
        if self._webhooks is None:
            self._webhooks = WebhookSender(
                self.settings.webhook_timeout, AddressPolicy.configured()
            )
        status = self._webhooks.send(
            ready.recipient,
            ready.body,
            secret=ready.secret,
            notice_id=ready.id,
            event=ready.kind,
        )
        return f"HTTP {status}"

    def close(self) -> None:
        if self._mailer is not None:
            self._mailer.close()
        if self._webhooks is not None:
            self._webhooks.close()


@dataclass
class _Attempt:
    """The outcome of one delivery attempt, until it is recorded."""

    ready: Prepared
    outcome: str  # sent / retry / dead
    values: dict
    fields: dict
    error: str | None
    detail: str


def _attempt(ready: Prepared, channels: _Channels, settings: RelaySettings) -> _Attempt:
    """Deliver a prepared notice; what to record (sent / retry / dead)."""
    fields = {
        "job": NAME,
        "notification": ready.id,
        "channel": ready.channel,
        "event": ready.event_key,
        "dispatch": ready.dispatch_id,
        "recipient": ready.recipient,
        "attempt": ready.attempts,
    }
    error, permanent = ready.problem, ready.problem is not None
    detail = ""
    if error is None:
        try:
            detail = channels.deliver(ready)
        except DeliveryFailed as exc:
            error, permanent = str(exc), exc.permanent
        except Exception as exc:  # a bug must not stop the other notices
            log.exception(kv(**fields, result="error"))
            error, permanent = f"{type(exc).__name__}: {exc}", False
    now = clock.now()
    if error is None:
        outcome = "sent"
        values = {"state": DeliveryState.SENT.value, "sent_at": now, "last_error": None}
        if ready.payload_after is not None:
            values["payload"] = ready.payload_after  # the link's clear token goes with the mail
    elif permanent or ready.attempts >= settings.max_attempts:
        outcome = "dead"
        values = {"state": DeliveryState.DEAD.value, "last_error": error[:2000]}
    else:
        outcome = "retry"
        wait = backoff(ready.attempts, settings)
        values = {
            "state": DeliveryState.PENDING.value,
            "next_attempt_at": now + timedelta(seconds=wait),
            "last_error": error[:2000],
        }
        fields["retry_in_s"] = f"{wait:.0f}"
    return _Attempt(ready, outcome, values, fields, error, detail)


class _Recorder:
    """Records outcomes a few at a time: every notice delivered is recorded, in one
    transaction with the others delivered in the last RECORD_SECONDS (one commit, not one per
    notice), before the next claim and at the end of the run."""

    def __init__(self):
        self.waiting: list[_Attempt] = []
        self.since = time.monotonic()
        self.counts: Counter = Counter()

    def add(self, attempt: _Attempt) -> None:
        if not self.waiting:
            self.since = time.monotonic()
        self.waiting.append(attempt)
        if time.monotonic() - self.since >= RECORD_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Record every waiting outcome (each only if its claim is still current)."""
        if not self.waiting:
            return
        attempts, self.waiting = self.waiting, []
        kept = [_finish(attempt.ready, **attempt.values) for attempt in attempts]
        db.session.commit()
        for attempt, current in zip(attempts, kept, strict=True):
            outcome = attempt.outcome if current else "lost"  # our lease ran out
            self.counts[outcome] += 1
            if outcome == "sent":
                log.info(kv(**attempt.fields, result=outcome, detail=attempt.detail))
            else:
                log.warning(kv(**attempt.fields, result=outcome, error=attempt.error))


def _load(claimed: list[tuple[int, int]]) -> tuple[dict, dict]:
    """Read a claimed batch's notices and their dispatches (with visits) in two queries:
    ({notice id: Notification}, {dispatch id: Dispatch})."""
    ids = [notice_id for notice_id, _attempts in claimed]
    stmt = select(Notification).where(Notification.id.in_(ids))
    notices = {notice.id: notice for notice in db.session.scalars(stmt)}
    dispatch_ids = {notice.dispatch_id for notice in notices.values() if notice.dispatch_id}
    dispatches = {}
    if dispatch_ids:
        stmt = (
            select(Dispatch)
            .where(Dispatch.id.in_(dispatch_ids))
            .options(selectinload(Dispatch.visit))
        )
        dispatches = {dispatch.id: dispatch for dispatch in db.session.scalars(stmt)}
    return notices, dispatches


def _prepare_batch(claimed: list[tuple[int, int]], settings: RelaySettings) -> list[Prepared]:
    """Load and render a claimed batch, in claim order."""
    notices, dispatches = _load(claimed)
    batch = []
    for notice_id, attempts in claimed:
        notice = notices[notice_id]
        batch.append(_prepare(notice, dispatches.get(notice.dispatch_id), attempts, settings))
    return batch


def _prepare(notice: Notification, dispatch, attempts: int, settings: RelaySettings) -> Prepared:
    """Render a claimed notice; one that cannot be rendered is dead with the reason (after a
    fix, an administrator retries it) instead of failing every later run."""
    try:
        return prepare(notice, dispatch, attempts, settings.mail)
    except Exception as exc:
        log.exception(kv(job=NAME, notification=notice.id, result="unrenderable"))
        return Prepared.of(
            notice, attempts, problem=f"cannot be rendered: {type(exc).__name__}: {exc}"
        )


def relay(app: Flask, *, acting=None) -> dict:
    """Deliver every due notice (until none is left or MAX_RUN_SECONDS passed), while
    `acting()` (the scheduler still leads) says so."""
    counts: Counter = Counter()
    with app.app_context(), audit.acting_as(audit.JOBS):
        settings = RelaySettings.from_config(app.config)
        channels = [Channel.IN_APP.value, Channel.WEBHOOK.value]
        if settings.mail.server:
            channels.append(Channel.EMAIL.value)  # without a server, e-mail notices wait
        transports = _Channels(settings)
        recorder = _Recorder()
        started = time.monotonic()
        # A notice is sent only while its lease has this much left (a slow batch must not
        # send a notice that another relay may already have claimed again).
        margin = max(settings.mail.timeout, settings.webhook_timeout) + 1
        try:
            while time.monotonic() - started < MAX_RUN_SECONDS:
                if acting is not None and not acting():
                    break
                claimed = claim(settings, channels)
                if not claimed:
                    break
                claimed_at = time.monotonic()
                batch = _prepare_batch(claimed, settings)
                db.session.rollback()  # no transaction stays open while we talk
                for ready in batch:
                    if time.monotonic() - claimed_at > settings.lease_seconds - margin or (
                        acting is not None and not acting()
                    ):
                        # Left to expire, or to the new leader, who reclaims it at takeover.
                        counts["deferred"] += 1
                        continue
                    recorder.add(_attempt(ready, transports, settings))
                recorder.flush()
        finally:
            try:
                recorder.flush()
            finally:
                transports.close()
    return dict(counts + recorder.counts)
