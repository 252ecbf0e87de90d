"""Two clicks at once make exactly one change: threads racing on PostgreSQL."""

import threading

import pytest
from flask import current_app

from models.core import audit, db
from models.core.errors import Conflict
from models.dispatch import Dispatch, DispatchState, arrive, cancel
from models.users import User

pytestmark = pytest.mark.postgres_only(
    reason="row locking under concurrent transactions needs PostgreSQL"
)


def run_race(dispatch_id: int, clerk_id: int, first, second) -> list[str]:
    """Run `first` and `second` in two threads, each in its own transaction on the same
    dispatch; the second starts while the first holds its uncommitted change. Returns what
    each did: "won" or "conflict"."""
    app = current_app._get_current_object()
    first_moved, second_loaded = threading.Event(), threading.Event()
    results: dict[str, str] = {}

    def worker(name, move, before_move, after_move):
        with app.app_context():
            try:
                clerk = db.session.get(User, clerk_id)
                dispatch = db.session.get(Dispatch, dispatch_id)
                before_move()
                with audit.acting_as(audit.Actor(clerk.id, name)):
                    move(dispatch, clerk)
                after_move()
                db.session.commit()
                results[name] = "won"
            except Conflict:
                db.session.rollback()
                results[name] = "conflict"
            finally:
                second_loaded.set()
                first_moved.set()
                db.session.remove()

    def first_after():
        first_moved.set()
        # Keep the change uncommitted until the second transaction has read the dispatch
        # (as still open) and is about to move it too.
        second_loaded.wait(5)
        threading.Event().wait(0.3)

    def second_before():
        first_moved.wait(5)
        second_loaded.set()

    threads = [
        threading.Thread(target=worker, args=("first", first, lambda: None, first_after)),
        threading.Thread(target=worker, args=("second", second, second_before, lambda: None)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return [results.get("first"), results.get("second")]


def _arrive(dispatch, clerk):
    arrive(dispatch, by=clerk)


def _cancel(dispatch, clerk):
    cancel(dispatch, "民眾離開", by=clerk)


def test_two_arrivals_at_once_make_exactly_one(make_dispatch, clerk):
    dispatch_id, clerk_id = make_dispatch().id, clerk.id
    db.session.remove()
    outcome = run_race(dispatch_id, clerk_id, _arrive, _arrive)
    assert sorted(outcome) == ["conflict", "won"]
    row = db.session.get(Dispatch, dispatch_id)
    assert row.state == DispatchState.ARRIVED
    moves = db.session.scalars(audit.search(action="dispatch.arrive")).all()
    assert len(moves) == 1


@pytest.mark.parametrize("cancel_first", [False, True])
def test_an_arrival_against_a_cancel_makes_exactly_one_change(make_dispatch, clerk, cancel_first):
    dispatch_id, clerk_id = make_dispatch().id, clerk.id
    db.session.remove()
    first, second = (_cancel, _arrive) if cancel_first else (_arrive, _cancel)
    outcome = run_race(dispatch_id, clerk_id, first, second)
    assert sorted(outcome) == ["conflict", "won"]
    row = db.session.get(Dispatch, dispatch_id)
    winner = first if outcome[0] == "won" else second
    if winner is _arrive:
        assert (row.state, row.end_reason) == (DispatchState.ARRIVED, None)
        assert row.arrived_at is not None
    else:
        assert (row.state, row.arrived_at) == (DispatchState.CANCELLED, None)
    assert len(db.session.scalars(audit.search(action="dispatch.")).all()) == 2  # notify + 1


def test_many_simultaneous_arrivals_make_exactly_one(make_dispatch, clerk):
    dispatch_id, clerk_id = make_dispatch().id, clerk.id
    db.session.remove()
    app = current_app._get_current_object()
    barrier = threading.Barrier(6)
    results = []

    def worker():
        with app.app_context():
            try:
                user = db.session.get(User, clerk_id)
                row = db.session.get(Dispatch, dispatch_id)
                barrier.wait(5)
                arrive(row, by=user)
                db.session.commit()
                results.append("won")
            except Conflict:
                db.session.rollback()
                results.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(results) == ["conflict"] * 5 + ["won"]
