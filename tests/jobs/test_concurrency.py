"""Two relays and two sweeps at once on PostgreSQL, against the same rows: every breach is
recorded once and every notice delivered exactly once per recipient."""

import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from jobs.escalation import overdue_sweep
from jobs.relay import relay
from models.core import db
from models.core.outbox import Notification
from models.dispatch.escalation import DispatchEscalation


def _threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(target):
        def body():
            try:
                barrier.wait()
                target()
            except BaseException as exc:  # reported to the test below
                errors.append(exc)

        return body

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.mark.postgres_only(
    reason="needs PostgreSQL: SQLite has one writer, so nothing runs concurrently there"
)
def test_two_relays_and_two_sweeps_deliver_everything_exactly_once(
    app, busy_centre, mail_to, monkeypatch
):
    receiver, overdue, reminded = busy_centre
    monkeypatch.setitem(app.config, "OUTBOX_BATCH_SIZE", 4)  # many small, interleaved claims
    sweep_counts: list[dict] = []
    relay_counts: list[Counter] = []
    sweeps_done = threading.Event()
    finished = []

    def sweep():
        for _ in range(3):
            sweep_counts.append(overdue_sweep(app))
        finished.append(1)
        if len(finished) == 2:
            sweeps_done.set()

    def run_relay():
        total: Counter = Counter()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            total.update(relay(app))
            if sweeps_done.is_set() and not _waiting(app):
                break
        relay_counts.append(total)

    errors = _threads([sweep, sweep, run_relay, run_relay])
    assert errors == []

    db.session.expire_all()
    steps = Counter(
        (row.dispatch_id, row.step) for row in db.session.scalars(sa.select(DispatchEscalation))
    )
    assert set(steps.values()) == {1}
    assert sum(1 for _d, step in steps if step == "breach") == 12
    assert sum(1 for _d, step in steps if step == "chief") == 12
    assert sum(1 for _d, step in steps if step == "reminder") == 6
    assert sum(c["breach"] for c in sweep_counts) == 12  # each taken by one sweep only
    assert sum(c["reminder"] for c in sweep_counts) == 6

    rows = list(db.session.scalars(sa.select(Notification)))
    # per breach: 2 staff + 2 addresses + webhook + 4 supervisors (in-app) + 4 e-mails;
    # per chief step: the chief in-app and e-mail; per reminder: 2 + 2 + webhook;
    # plus the 18 dispatches' two `notified` e-mails each.
    assert len(rows) == 12 * 13 + 12 * 2 + 6 * 5 + 18 * 2
    assert {r.state for r in rows} == {"sent"}
    assert {r.attempts for r in rows} == {1}  # every row claimed (or written delivered) once
    # The sweep writes its in-app notices delivered; the relays sent every other row once.
    assert sum(c["sent"] for c in relay_counts) == sum(1 for r in rows if r.channel != "in_app")

    mails = Counter((m["X-CityDesk-Event"], tuple(rcpts)) for rcpts, m in mail_to.messages)
    assert len(mails) == sum(1 for r in rows if r.channel == "email")
    assert set(mails.values()) == {1}
    hooks = Counter(r["headers"]["Idempotency-Key"] for r in receiver.requests)
    assert len(hooks) == sum(1 for r in rows if r.channel == "webhook") == 12 + 6
    assert set(hooks.values()) == {1}


def _waiting(app) -> bool:
    with app.app_context(), db.engine.connect() as conn:
        return bool(
            conn.execute(
                sa.select(sa.func.count(Notification.id)).where(
                    Notification.state.in_(["pending", "sending"])
                )
            ).scalar()
        )
