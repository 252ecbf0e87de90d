"""DESIGN "The rules" for dispatches, each boundary pinned with the movable clock."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from models.core import clock, db
from models.dispatch import (
    Dispatch,
    DispatchState,
    Outcome,
    acknowledge,
    arrive,
    cancel,
    correct_time,
    deadline_after,
    on_time_rate,
    outcome_counts,
    transfer,
)
from models.reference import set_sla_seconds


def sql_outcome(dispatch: Dispatch, at: datetime | None = None) -> str:
    """The outcome the SQL CASE gives (the same rule the yearly roll-up uses)."""
    at = at or clock.now()
    return db.session.scalar(select(Dispatch.outcome_expr(at)).where(Dispatch.id == dispatch.id))


def assert_outcome(dispatch: Dispatch, expected: Outcome) -> None:
    """The Python rule and the SQL rule agree on `expected`."""
    db.session.expire_all()
    dispatch = db.session.get(Dispatch, dispatch.id)
    assert dispatch.outcome() == expected
    assert sql_outcome(dispatch) == expected.value


def test_notification_snapshots_the_sla_and_stores_the_deadline(frozen_clock, make_dispatch):
    start = clock.now()
    dispatch = make_dispatch()
    db.session.expire_all()
    dispatch = db.session.get(Dispatch, dispatch.id)
    assert dispatch.notified_at == start
    assert dispatch.sla_seconds == 600
    assert dispatch.deadline_at == start + timedelta(seconds=600)
    assert dispatch.state == DispatchState.NOTIFIED


def test_times_come_back_from_the_database_aware_in_utc(frozen_clock, make_dispatch):
    dispatch = make_dispatch()
    db.session.expire_all()
    dispatch = db.session.get(Dispatch, dispatch.id)
    assert dispatch.notified_at.tzinfo is not None
    assert dispatch.notified_at.utcoffset() == timedelta(0)
    assert dispatch.notified_at == datetime(2024, 3, 4, 2, 0, tzinfo=UTC)


def test_arrival_at_exactly_600_seconds_is_on_time(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    clock.advance(seconds=600)
    arrive(dispatch, by=clerk)
    db.session.commit()
    assert dispatch.arrived_at == dispatch.deadline_at
    assert_outcome(dispatch, Outcome.ON_TIME)
    assert dispatch.on_time is True


def test_arrival_at_601_seconds_is_late(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    clock.advance(seconds=601)
    arrive(dispatch, by=clerk)
    db.session.commit()
    assert_outcome(dispatch, Outcome.LATE)
    assert dispatch.on_time is False


def test_acknowledged_then_arrived_in_time_is_on_time(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    clock.advance(seconds=120)
    acknowledge(dispatch, "王社工", 5, by=clerk)
    clock.advance(seconds=300)
    arrive(dispatch, by=clerk)
    db.session.commit()
    assert_outcome(dispatch, Outcome.ON_TIME)


def test_open_within_its_deadline_is_pending_and_not_counted(frozen_clock, make_dispatch):
    dispatch = make_dispatch()
    clock.advance(seconds=600)  # exactly at the deadline: it can still be on time
    assert_outcome(dispatch, Outcome.PENDING)
    assert dispatch.is_overdue() is False
    assert dispatch.on_time is None
    counts = outcome_counts(Dispatch.id == dispatch.id)
    assert (counts.pending, counts.counted, counts.rate) == (1, 0, None)


def test_open_past_its_deadline_is_late(frozen_clock, make_dispatch):
    dispatch = make_dispatch()
    clock.advance(seconds=601)
    assert_outcome(dispatch, Outcome.LATE)
    assert dispatch.is_overdue() is True
    assert db.session.scalar(select(Dispatch.id).where(Dispatch.overdue_clause(clock.now()))) == (
        dispatch.id
    )


def test_acknowledged_but_not_arrived_past_deadline_is_late(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    clock.advance(seconds=60)
    acknowledge(dispatch, "王社工", by=clerk)
    db.session.commit()
    clock.advance(seconds=541)
    assert_outcome(dispatch, Outcome.LATE)


def test_cancelled_before_the_deadline_is_excluded(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    clock.advance(seconds=300)
    cancel(dispatch, "民眾先行離開", by=clerk)
    db.session.commit()
    clock.advance(seconds=3600)  # long after: still excluded
    assert_outcome(dispatch, Outcome.CANCELLED)
    assert dispatch.on_time is None


def test_cancelled_exactly_at_the_deadline_is_excluded(frozen_clock, make_dispatch, clerk):
    dispatch = make_dispatch()
    clock.advance(seconds=600)
    cancel(dispatch, "已電話處理", by=clerk)
    db.session.commit()
    assert_outcome(dispatch, Outcome.CANCELLED)


def test_cancelled_after_the_deadline_with_nobody_arrived_is_late(
    frozen_clock, make_dispatch, clerk
):
    dispatch = make_dispatch()
    clock.advance(seconds=601)
    cancel(dispatch, "民眾等候過久離開", by=clerk)
    db.session.commit()
    assert_outcome(dispatch, Outcome.LATE)
    assert dispatch.on_time is False


def test_transferred_is_excluded_and_the_new_dispatch_runs_its_own_clock(
    frozen_clock, make_dispatch, clerk
):
    first = make_dispatch(agency="social-welfare")
    clock.advance(seconds=700)  # past the first deadline: the transfer is still excluded
    second = transfer(first, "labor", "非本局業務", by=clerk)
    db.session.commit()
    assert first.state == DispatchState.TRANSFERRED
    assert first.transferred_to_id == second.id
    assert_outcome(first, Outcome.TRANSFERRED)
    assert second.agency.code == "labor"
    assert second.notified_at == clock.now()
    assert second.deadline_at == clock.now() + timedelta(seconds=600)
    clock.advance(seconds=600)
    arrive(second, by=clerk)
    db.session.commit()
    assert_outcome(second, Outcome.ON_TIME)
    counts = outcome_counts(Dispatch.id.in_([first.id, second.id]))
    assert (counts.on_time, counts.late, counts.transferred, counts.rate) == (
        1,
        0,
        1,
        Decimal("100.00"),
    )


def test_a_later_sla_change_never_rewrites_history(frozen_clock, make_dispatch, clerk):
    old = make_dispatch()
    set_sla_seconds(300)
    db.session.commit()
    new = make_dispatch()
    assert (new.sla_seconds, new.deadline_at) == (300, clock.now() + timedelta(seconds=300))
    clock.advance(seconds=450)
    arrive(old, by=clerk)
    arrive(new, by=clerk)
    db.session.commit()
    db.session.expire_all()
    old = db.session.get(Dispatch, old.id)
    assert old.sla_seconds == 600
    assert old.deadline_at == old.notified_at + timedelta(seconds=600)
    assert_outcome(old, Outcome.ON_TIME)
    assert_outcome(new, Outcome.LATE)


def test_the_year_is_the_taipei_year_of_notified_at(make_dispatch, clerk):
    # 2024-01-01 00:05 in Taipei is still 2023-12-31 16:05 in UTC: it belongs to 2024.
    clock.freeze(datetime(2024, 1, 1, 0, 5, tzinfo=clock.TAIPEI))
    dispatch = make_dispatch()
    clock.advance(seconds=60)
    arrive(dispatch, by=clerk)
    db.session.commit()
    assert dispatch.notified_at.year == 2023  # UTC
    assert clock.taipei_year(dispatch.notified_at) == 2024
    in_2024 = outcome_counts(clock.in_year(Dispatch.notified_at, 2024))
    in_2023 = outcome_counts(clock.in_year(Dispatch.notified_at, 2023))
    assert (in_2024.on_time, in_2023.total) == (1, 0)


def test_the_last_minute_of_a_taipei_year_stays_in_that_year(make_dispatch, clerk):
    clock.freeze(datetime(2023, 12, 31, 23, 59, 59, tzinfo=clock.TAIPEI))
    make_dispatch()
    assert outcome_counts(clock.in_year(Dispatch.notified_at, 2023)).total == 1
    assert outcome_counts(clock.in_year(Dispatch.notified_at, 2024)).total == 0


@pytest.mark.parametrize(
    ("on_time", "counted", "rate"),
    [
        (797, 800, Decimal("99.63")),  # 99.625 rounds half up, not to even
        (51, 59, Decimal("86.44")),  # the published 2023 figure
        (1, 3, Decimal("33.33")),
        (2, 3, Decimal("66.67")),
        (5, 5, Decimal("100.00")),
        (0, 4, Decimal("0.00")),
    ],
)
def test_the_rate_is_decimal_rounded_half_up(on_time, counted, rate):
    assert on_time_rate(on_time, counted) == rate


def test_no_counted_dispatch_means_no_rate_never_100(frozen_clock, make_dispatch, clerk):
    assert on_time_rate(0, 0) is None
    pending = make_dispatch()
    cancelled = make_dispatch()
    cancel(cancelled, "離開", by=clerk)
    db.session.commit()
    counts = outcome_counts(Dispatch.id.in_([pending.id, cancelled.id]))
    assert counts.total == 2
    assert counts.counted == 0
    assert counts.rate is None


def test_the_rate_counts_only_on_time_and_late(frozen_clock, make_dispatch, clerk):
    on_time = [make_dispatch() for _ in range(3)]
    late = make_dispatch()
    cancelled = make_dispatch()
    pending_later = []
    clock.advance(seconds=100)
    cancel(cancelled, "離開", by=clerk)
    for dispatch in on_time:
        arrive(dispatch, by=clerk)
    clock.advance(seconds=600)
    arrive(late, by=clerk)
    pending_later.append(make_dispatch())
    db.session.commit()
    counts = outcome_counts()
    assert (counts.on_time, counts.late, counts.pending, counts.cancelled) == (3, 1, 1, 1)
    assert counts.rate == Decimal("75.00")


def test_deadline_is_notified_at_plus_the_sla_in_force(
    frozen_clock, make_dispatch, clerk, create_user
):
    assert deadline_after(clock.now(), 600) == clock.now() + timedelta(seconds=600)
    set_sla_seconds(900)
    db.session.commit()
    first = make_dispatch()
    assert first.deadline_at == deadline_after(first.notified_at, 900)
    set_sla_seconds(300)
    db.session.commit()
    clock.advance(seconds=60)
    successor = transfer(first, "labor", by=clerk)  # a new dispatch: the SLA in force now
    db.session.commit()
    assert successor.deadline_at == deadline_after(clock.now(), 300)
    assert first.deadline_at == deadline_after(first.notified_at, 900)  # history unchanged
    supervisor = create_user(role="supervisor")
    correct_time(
        first, "notified_at", first.notified_at + timedelta(seconds=30), "鍵入錯誤", by=supervisor
    )
    assert first.deadline_at == deadline_after(first.notified_at, 900)  # moves with its start


@pytest.mark.parametrize(
    ("move", "expected"),
    [("arrive_in_time", True), ("arrive_late", False), ("wait", None), ("cancel", None)],
)
def test_on_time_is_one_rule_for_the_model_and_the_api(
    frozen_clock, make_dispatch, clerk, api_as, move, expected
):
    dispatch = make_dispatch()
    if move == "arrive_in_time":
        clock.advance(seconds=600)
        arrive(dispatch, by=clerk)
    elif move == "arrive_late":
        clock.advance(seconds=601)
        arrive(dispatch, by=clerk)
    elif move == "cancel":
        cancel(dispatch, "民眾先行離開", by=clerk)
    db.session.commit()
    assert dispatch.on_time is dispatch.on_time_at(clock.now()) is expected
    body = api_as("supervisor").get(f"/dispatches/{dispatch.id}").get_json()
    assert body["on_time"] is expected
