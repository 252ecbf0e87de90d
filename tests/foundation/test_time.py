"""Time: UTC-aware storage on every database, Taipei display, ROC years, the movable clock."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models.core import clock, db
from models.core.audit import AuditEntry, record
from webapp.filters import percent, roc_date, roc_datetime, roc_year, taipei


def test_taipei_new_year_instant_comes_back_as_the_same_aware_instant(app):
    instant = datetime.fromisoformat("2024-01-01T00:05:00+08:00")
    clock.freeze(instant)
    record("test.time", "test", 1)
    db.session.commit()
    clock.unfreeze()
    entry_id = db.session.scalar(sa.select(AuditEntry.id))
    db.session.expunge_all()
    loaded = db.session.get(AuditEntry, entry_id)
    assert loaded.at == instant
    assert loaded.at.utcoffset() == timedelta(0)
    assert loaded.at == datetime(2023, 12, 31, 16, 5, tzinfo=UTC)
    assert roc_datetime(loaded.at) == "113/01/01 00:05"
    assert clock.taipei_year(loaded.at) == 2024
    # The stored value is UTC whatever the database: SQLite keeps the UTC wall time as text,
    # PostgreSQL a timestamptz whose wall time in UTC is that same 16:05.
    if db.engine.dialect.name == "postgresql":
        stored = db.session.execute(
            sa.text(
                "select pg_typeof(at)::text, to_char(at at time zone 'UTC', "
                "'YYYY-MM-DD HH24:MI:SS') from audit_entry where id = :id"
            ),
            {"id": entry_id},
        ).one()
        assert tuple(stored) == ("timestamp with time zone", "2023-12-31 16:05:00")
    else:
        raw = db.session.execute(
            sa.text("select at from audit_entry where id = :id"), {"id": entry_id}
        ).scalar()
        assert raw == "2023-12-31 16:05:00.000000"


def test_a_naive_datetime_is_refused(app, create_user):
    user = create_user(role="clerk")
    user.created_at = datetime(2024, 1, 1, 0, 5)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.flush()
    db.session.rollback()


def test_year_bounds_follow_taipei_time():
    start, end = clock.year_bounds(2024)
    assert start == datetime(2023, 12, 31, 16, 0, tzinfo=UTC)
    assert end == datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    assert clock.taipei_year(datetime(2023, 12, 31, 15, 59, 59, tzinfo=UTC)) == 2023
    assert clock.taipei_year(datetime(2023, 12, 31, 16, 0, tzinfo=UTC)) == 2024


def test_parse_local_treats_offsetless_times_as_taipei():
    assert clock.parse_local("2023-03-05 14:03") == clock.parse_local("2023-03-05T14:03:00+08:00")
    assert clock.parse_local("2023-03-05T06:03:00Z") == datetime(2023, 3, 5, 6, 3, tzinfo=UTC)


def test_the_clock_can_be_frozen_and_moved():
    at = clock.freeze(datetime(2024, 5, 1, 9, 0, tzinfo=clock.TAIPEI))
    assert clock.now() == at
    assert clock.advance(seconds=600) - at == timedelta(seconds=600)
    clock.unfreeze()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(ValueError):
        clock.freeze(datetime(2024, 1, 1))


def test_display_filters():
    instant = datetime(2024, 1, 5, 6, 3, 9, tzinfo=UTC)
    assert roc_datetime(instant) == "113/01/05 14:03"
    assert roc_datetime(instant, seconds=True) == "113/01/05 14:03:09"
    assert roc_date(instant) == "113/01/05"
    assert taipei(instant) == "2024-01-05 14:03"
    assert roc_year(2023) == "112年度"
    assert roc_datetime(None) == "—"
    assert percent(None) == "—"
    assert percent(86.4407) == "86.44%"


def test_roc_years_and_dates_have_one_rule_in_the_clock():
    """The ROC year and the ROC date and time are written by the clock (the filters call it)."""
    assert clock.roc_year(2024) == 113
    assert clock.gregorian_year(113) == 2024
    instant = datetime(2023, 12, 31, 16, 3, 9, tzinfo=UTC)  # 2024-01-01 00:03:09 in Taipei
    assert clock.roc_datetime(instant) == "113/01/01 00:03"
    assert clock.roc_datetime(instant, seconds=True) == "113/01/01 00:03:09"
    assert clock.roc_date(clock.local(instant).date()) == "113/01/01"


@pytest.mark.parametrize(
    ("typed", "year"),
    [("115", 2026), ("2026", 2026), (" 112 ", 2023), ("民國112年", 2023), ("112年度", 2023),
     ("１１５", 2026), (112, 2023), (2023, 2023), ("1", 1912)],
)  # fmt: skip
def test_parse_year_takes_roc_or_gregorian(typed, year):
    assert clock.parse_year(typed) == year


@pytest.mark.parametrize("typed", ["", "  ", "0", "0115", "12345", "abc", "11.5", "-1", None])
def test_parse_year_refuses_what_is_not_a_year(typed):
    with pytest.raises(ValueError):
        clock.parse_year(typed)


def test_in_year_takes_its_first_instant_and_leaves_the_next_years_first(app):
    """The year's SQL condition: from Taipei 1 January 00:00:00 inclusive to the next year's
    first instant exclusive (a record there belongs to the next year only)."""
    from sqlalchemy import literal, select

    from models.core.types import UTCDateTime

    def counted(at: datetime) -> bool:
        return bool(db.session.scalar(select(clock.in_year(literal(at, UTCDateTime()), 2023))))

    first = datetime(2023, 1, 1, tzinfo=clock.TAIPEI)
    next_first = datetime(2024, 1, 1, tzinfo=clock.TAIPEI)
    assert counted(first)
    assert not counted(first - timedelta(seconds=1))
    assert counted(next_first - timedelta(seconds=1))
    assert not counted(next_first)


def test_minutes_from_seconds_have_one_decimal_rounded_half_up():
    """The one minutes rule (visitor's wait, report durations, the report's time limit): 183 s
    is 3.05 min, 3.1 half up (banker's rounding would give 3.0); 177 s is 2.95, 3.0."""
    from fractions import Fraction

    assert clock.minutes(183) == 3.1
    assert clock.minutes(177) == 3.0
    assert clock.minutes(600) == 10.0 and isinstance(clock.minutes(600), float)
    assert clock.minutes(0) == 0.0
    assert clock.minutes(2) == 0.0  # 0.033… min
    assert clock.minutes(3) == 0.1  # 0.05 min: half up
    assert clock.minutes(Fraction(3051, 10)) == 5.1  # a percentile of 305.1 s is 5.085 min
    assert clock.minutes(Fraction(3045, 10)) == 5.1  # 5.075 min: half up
    assert clock.minutes(None) is None


def test_a_wait_in_whole_seconds_rounds_half_up():
    """The one whole-seconds rule (a visitor's wait, the live feed's rows): 2.5 s is 3 (banker's
    rounding would give 2), 3.5 s is 4, 1.4 s is 1, and an int comes back."""
    assert clock.whole_seconds(timedelta(seconds=2.5)) == 3
    assert clock.whole_seconds(timedelta(seconds=3.5)) == 4
    assert clock.whole_seconds(timedelta(seconds=1.4)) == 1
    assert clock.whole_seconds(timedelta(minutes=14, seconds=37, milliseconds=500)) == 878
    assert isinstance(clock.whole_seconds(timedelta(seconds=600)), int)


def test_a_deadline_has_passed_only_after_its_instant():
    """`is_past` (Python's side of `Dispatch.past_deadline`): not at the deadline itself, one
    microsecond after it yes."""
    deadline = datetime(2024, 3, 4, 10, 10, tzinfo=clock.TAIPEI)
    assert not clock.is_past(deadline, deadline)
    assert not clock.is_past(deadline, deadline - timedelta(microseconds=1))
    assert clock.is_past(deadline, deadline + timedelta(microseconds=1))
