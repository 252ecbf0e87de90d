"""The Taiwan working-day calendar: weekends, national holidays, make-up working days (補班),
seeded from the `holidays` package, editable per year in the database."""

from datetime import date

import pytest
from sqlalchemy import func, select

from models import workdays
from models.core import audit, db
from models.core.errors import InvalidInput
from models.workdays import (
    CalendarDay,
    CalendarYear,
    add_working_days,
    is_working_day,
    working_days_between,
)

CLI = audit.Actor(None, "test")
pytestmark = pytest.mark.usefixtures("english")


def test_weekend():
    friday = date(2024, 3, 8)
    assert is_working_day(friday) and not is_working_day(date(2024, 3, 9))
    assert not is_working_day(date(2024, 3, 10))
    assert add_working_days(friday, 1) == date(2024, 3, 11)
    assert working_days_between(friday, date(2024, 3, 11)) == 1


def test_national_holiday():
    # 2024-04-04 Children's Day and Tomb-Sweeping Day, 04-05 observed: a four-day weekend
    assert not is_working_day(date(2024, 4, 4)) and not is_working_day(date(2024, 4, 5))
    assert add_working_days(date(2024, 4, 3), 1) == date(2024, 4, 8)
    assert working_days_between(date(2024, 4, 3), date(2024, 4, 8)) == 1
    # 2023-10-10 National Day (Tuesday) and 10-09 the bridge day off
    assert add_working_days(date(2023, 10, 6), 1) == date(2023, 10, 11)


def test_make_up_working_day():
    # Saturday 2024-02-17 is a working day (補班 for Thursday 02-08)
    assert is_working_day(date(2024, 2, 17))
    assert not is_working_day(date(2024, 2, 8))
    assert add_working_days(date(2024, 2, 16), 1) == date(2024, 2, 17)
    assert working_days_between(date(2024, 2, 16), date(2024, 2, 19)) == 2
    # Chinese New Year 2024: 02-08 to 02-14 off; from Wed 02-07 one working day is 02-15
    assert add_working_days(date(2024, 2, 7), 1) == date(2024, 2, 15)


def test_zero_and_negative():
    assert add_working_days(date(2024, 4, 4), 0) == date(2024, 4, 4)
    assert working_days_between(date(2024, 4, 8), date(2024, 4, 1)) == 0
    with pytest.raises(ValueError):
        add_working_days(date(2024, 4, 4), -1)


def test_years_are_seeded_from_the_package():
    years = set(db.session.scalars(select(CalendarYear.year)))
    assert {2015, 2023, 2024, 2025} <= years
    row = db.session.get(CalendarDay, date(2024, 2, 17))
    assert (row.working, row.name, row.source) == (True, "補班", "library")
    assert db.session.get(CalendarDay, date(2024, 10, 10)).name == "國慶日"
    # ROC 112 (2023) had six make-up Saturdays
    assert (
        db.session.scalar(select(func.count()).where(CalendarDay.year == 2023, CalendarDay.working))
        == 6
    )


def test_editing_a_year_in_the_database():
    typhoon = date(2024, 7, 25)  # 凱米颱風: a day off declared the day before
    assert is_working_day(typhoon)
    with audit.acting_as(CLI):
        workdays.set_day(typhoon, working=False, name="颱風停班")
        db.session.commit()
    assert not is_working_day(typhoon)
    assert add_working_days(date(2024, 7, 24), 1) == date(2024, 7, 26)
    with audit.acting_as(CLI):
        workdays.remove_day(date(2024, 2, 17))  # the make-up Saturday becomes a Saturday
        db.session.commit()
    assert not is_working_day(date(2024, 2, 17))
    actions = db.session.scalars(
        select(audit.AuditEntry.action)
        .where(audit.AuditEntry.action.startswith("calendar."))
        .order_by(audit.AuditEntry.id)
    ).all()
    assert actions == ["calendar.set_day", "calendar.remove_day"]
    # reloading from the package drops the edits
    with audit.acting_as(CLI):
        workdays.load_year(2024, replace=True)
        db.session.commit()
    assert is_working_day(typhoon) and is_working_day(date(2024, 2, 17))


def test_editing_refuses_nonsense():
    with pytest.raises(InvalidInput, match="Saturday or a Sunday"):
        workdays.set_day(date(2024, 3, 6), working=True, name="")
    with pytest.raises(InvalidInput, match="name"):
        workdays.set_day(date(2024, 3, 6), working=False, name=" ")
    with pytest.raises(InvalidInput, match="not in the list"):
        workdays.remove_day(date(2024, 3, 6))
    with pytest.raises(InvalidInput, match="1998"):
        workdays.load_year(1900)


def test_a_year_not_in_the_database_falls_back_to_the_package():
    assert db.session.get(CalendarYear, 2040) is None
    days = workdays.days_of_year(2040)
    assert any(d.name == "國慶日" for d in days)
    assert not is_working_day(date(2040, 10, 10))
    with audit.acting_as(CLI):
        workdays.set_day(date(2040, 10, 11), working=False, name="調整放假")
        db.session.commit()
    assert db.session.get(CalendarYear, 2040) is not None
    assert not is_working_day(date(2040, 10, 10)) and not is_working_day(date(2040, 10, 11))


def test_a_year_is_loaded_once_per_context(app):
    statements = []

    from sqlalchemy import event

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for offset in range(2000):
            add_working_days(date(2024, 1, 1), offset % 40)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    # 40 working days from 1 January stay in 2024: the year is read once, with two queries
    # (its calendar row, then its days), however many questions are asked.
    assert len(statements) == 2
    with app.app_context():  # a new context only checks the years' revisions (kept per process)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert add_working_days(date(2024, 1, 1), 1) == date(2024, 1, 2)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 3


def test_outside_an_app_context_the_package_answers(app):
    import threading

    answers = []
    thread = threading.Thread(target=lambda: answers.append(is_working_day(date(2024, 2, 17))))
    thread.start()
    thread.join()
    assert answers == [True]


def _statements(app, work) -> int:
    """How many SQL statements `work` sends in a fresh application context (a new request)."""
    from sqlalchemy import event

    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            work()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        db.session.remove()
    return len(statements)


def test_the_calendar_is_kept_per_process_and_an_edit_anywhere_is_seen(app):
    from sqlalchemy import insert, update

    typhoon = date(2024, 7, 25)
    _statements(app, lambda: is_working_day(typhoon))
    assert _statements(app, lambda: is_working_day(typhoon)) == 1  # the revisions only
    assert _statements(app, lambda: add_working_days(typhoon, 5)) == 1
    # Another worker edits the year: its days and the year's revision change together.
    with db.engine.begin() as conn:
        conn.execute(
            insert(CalendarDay).values(
                day=typhoon, year=2024, working=False, name="颱風停班", source="manual"
            )
        )
        conn.execute(update(CalendarYear).where(CalendarYear.year == 2024).values(revision="x"))
    answers = []
    assert _statements(app, lambda: answers.append(is_working_day(typhoon))) == 2
    assert answers == [False]


def test_an_edit_rolled_back_leaves_the_kept_calendar_as_it_was(app):
    typhoon = date(2024, 7, 26)
    with app.app_context(), audit.acting_as(CLI):
        workdays.set_day(typhoon, working=False, name="颱風停班")
        assert not is_working_day(typhoon)  # this transaction sees its own edit
        db.session.rollback()
    with app.app_context():
        assert is_working_day(typhoon)
        workdays.set_day(typhoon, working=False, name="颱風停班")
        db.session.commit()
    with app.app_context():
        assert not is_working_day(typhoon)


def test_the_working_day_walks_stop_only_past_twenty_years():
    """The guards against runaway loops: a walk of exactly MAX_SPAN_DAYS days is answered, one
    day more is refused, and a negative count is refused, each with its message."""
    from datetime import timedelta

    def every_day_works(year):
        first = date(year, 1, 1)
        days = (first + timedelta(days=i) for i in range(366))
        return workdays.YearDays(frozenset(), frozenset(d for d in days if d.year == year))

    calendar = workdays.WorkCalendar(every_day_works)
    start, span = date(2000, 1, 1), workdays.MAX_SPAN_DAYS
    assert calendar.add_working_days(start, span) == start + timedelta(days=span)
    with pytest.raises(ValueError, match="^too many days$"):
        calendar.add_working_days(start, span + 1)
    with pytest.raises(ValueError, match="^n must be >= 0$"):
        calendar.add_working_days(start, -1)
    assert calendar.working_days_between(start, start + timedelta(days=span)) == span
    with pytest.raises(ValueError, match="^span too long$"):
        calendar.working_days_between(start, start + timedelta(days=span + 1))
