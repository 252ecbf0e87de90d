"""Working days of the Taiwan calendar, for repair due dates and time-to-fix figures.

Interface used across areas (keep these signatures):
- `is_working_day(day)`
- `add_working_days(start, n)`: the date n working days after `start`
- `working_days_between(start, end)`: working days after `start` up to and including `end`

A day is a working day when it is a make-up working day (補班), else when it is not a day off
(national holidays, observed holidays, adjusted days off) and not a Saturday or Sunday.

The days off and make-up working days are an editable list per year in the database
(`work_calendar_year` marks a year as kept there; `work_calendar_day` holds its days). Years are
seeded from the maintained `holidays` package (its Taiwan calendar, which knows 補班 through
`weekend_workdays`); a year that is not in the database yet falls back to that package directly.

Speed: a year is loaded once per application context (one request, one job run) and kept in
`flask.g`, so thousands of calls cost two queries per year touched. Outside an application
context the package's calendar is used.
"""

import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import g, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, clock, db
from models.core.errors import InvalidInput
from models.core.text import clean_text
from models.core.types import UTCDateTime

FIRST_SEEDED_YEAR = 2015
MIN_YEAR, MAX_YEAR = 1998, 2100  # the package's Taiwan calendar starts in 1998
MAKE_UP_NAME = "補班"
MAX_SPAN_DAYS = 366 * 20  # a guard against runaway loops on absurd input


class CalendarYear(db.Model):
    """A year whose days off and make-up working days are kept in the database."""

    __tablename__ = "work_calendar_year"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(60))  # e.g. "holidays 0.109"
    loaded_at: Mapped[datetime]


class CalendarDay(db.Model):
    """One exception to the Monday-to-Friday week: a day off or a make-up working day."""

    __tablename__ = "work_calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    working: Mapped[bool]  # True: make-up working day (補班); False: day off
    name: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(20), default="library")  # library | manual


# --- the package's calendar --------------------------------------------------------------


def library_version() -> str:
    """Which package (and version) the seeded calendar comes from."""
    import holidays

    return f"holidays {holidays.__version__}"


@functools.lru_cache(maxsize=256)
def library_days(year: int) -> tuple[tuple[date, bool, str], ...]:
    """The `holidays` package's Taiwan days off and 補班 of a year: (day, working, name)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return ()
    import holidays

    calendar = holidays.Taiwan(years=year, language="zh_TW")
    rows: dict[date, tuple[bool, str]] = {
        day: (False, str(name)[:100]) for day, name in calendar.items() if day.year == year
    }
    for day in calendar.weekend_workdays:
        if day.year == year:
            rows[day] = (True, MAKE_UP_NAME)
    return tuple((day, working, name) for day, (working, name) in sorted(rows.items()))


# --- seeding (plain tables: called from migrations and the reference seed) ---------------

_year_table = sa.table(
    "work_calendar_year",
    sa.column("year", sa.Integer),
    sa.column("source", sa.String),
    sa.column("loaded_at", UTCDateTime()),
)
_day_table = sa.table(
    "work_calendar_day",
    sa.column("day", sa.Date),
    sa.column("year", sa.Integer),
    sa.column("working", sa.Boolean),
    sa.column("name", sa.String),
    sa.column("source", sa.String),
)


def seed_years() -> range:
    """The years seeded into the database: 2015 to next year."""
    return range(FIRST_SEEDED_YEAR, clock.today().year + 2)


def seed_calendar(connection: sa.Connection, years=None) -> None:
    """Copy the package's calendar into the database for each year not kept there yet.

    Never changes a year already in the database (an administrator's edits survive). Does
    nothing before the calendar tables exist (the reference seed runs in earlier migrations).
    """
    if not sa.inspect(connection).has_table("work_calendar_year"):
        return
    have = set(connection.scalars(select(_year_table.c.year)))
    fresh = [year for year in (years or seed_years()) if year not in have]
    if not fresh:
        return
    source, at = library_version(), clock.now()
    days = [
        {"day": day, "year": year, "working": working, "name": name, "source": "library"}
        for year in fresh
        for day, working, name in library_days(year)
    ]
    connection.execute(
        _year_table.insert(), [{"year": y, "source": source, "loaded_at": at} for y in fresh]
    )
    if days:
        connection.execute(_day_table.insert(), days)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearDays:
    """A year's days off and make-up working days."""

    off: frozenset[date]
    extra: frozenset[date]


def _from_rows(rows) -> YearDays:
    rows = list(rows)
    return YearDays(
        off=frozenset(day for day, working, _name in rows if not working),
        extra=frozenset(day for day, working, _name in rows if working),
    )


def _load_from_database(year: int) -> YearDays:
    if db.session.get(CalendarYear, year) is None:
        return _from_rows(library_days(year))
    rows = db.session.execute(
        select(CalendarDay.day, CalendarDay.working, CalendarDay.name).where(
            CalendarDay.year == year
        )
    )
    return _from_rows(rows)


class WorkCalendar:
    """Answers working-day questions, loading each year once."""

    def __init__(self, loader):
        self._loader = loader
        self._years: dict[int, YearDays] = {}

    def year(self, year: int) -> YearDays:
        """The days off and make-up working days of `year`."""
        days = self._years.get(year)
        if days is None:
            days = self._years[year] = self._loader(year)
        return days

    def is_working_day(self, day: date) -> bool:
        """True on a working day."""
        days = self.year(day.year)
        if day in days.extra:
            return True
        if day in days.off:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The date `n` working days after `start`."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day, steps = start, 0
        while n > 0:
            day += timedelta(days=1)
            steps += 1
            if steps > MAX_SPAN_DAYS:
                raise ValueError("too many days")
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`."""
        if (end - start).days > MAX_SPAN_DAYS:
            raise ValueError("span too long")
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


_LIBRARY_CALENDAR = WorkCalendar(lambda year: _from_rows(library_days(year)))


def current() -> WorkCalendar:
    """The calendar for this application context (database-backed), else the package's."""
    if not has_app_context():
        return _LIBRARY_CALENDAR
    calendar = g.get("_work_calendar")
    if calendar is None:
        calendar = g._work_calendar = WorkCalendar(_load_from_database)
    return calendar


def forget_loaded() -> None:
    """Drop this context's loaded years (after an edit)."""
    if has_app_context():
        g.pop("_work_calendar", None)


def is_working_day(day: date) -> bool:
    """True on a working day of the Taiwan calendar."""
    return current().is_working_day(day)


def add_working_days(start: date, n: int) -> date:
    """The date `n` working days after `start` (n >= 0; 0 gives `start`)."""
    return current().add_working_days(start, n)


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    return current().working_days_between(start, end)


def next_working_day(day: date) -> date:
    """`day` when it is a working day, else the next working day."""
    return current().next_working_day(day)


# --- editing ------------------------------------------------------------------------------


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(
            _l(
                "The calendar covers the years %(first)s to %(last)s.",
                first=MIN_YEAR,
                last=MAX_YEAR,
            )
        )


def year_in_database(year: int) -> bool:
    """True when the year's list is kept (and editable) in the database."""
    return db.session.get(CalendarYear, year) is not None


def days_of_year(year: int) -> list[CalendarDay]:
    """The year's days off and make-up working days (from the database or the package)."""
    if year_in_database(year):
        return list(
            db.session.scalars(
                select(CalendarDay).where(CalendarDay.year == year).order_by(CalendarDay.day)
            )
        )
    return [
        CalendarDay(day=day, year=year, working=working, name=name, source="library")
        for day, working, name in library_days(year)
    ]


def load_year(year: int, *, replace: bool = False) -> CalendarYear:
    """Keep a year in the database, copied from the package; `replace` drops earlier edits."""
    _check_year(year)
    row = db.session.get(CalendarYear, year)
    if row is not None and not replace:
        return row
    before = None
    if row is not None:
        before = {"days": len(days_of_year(year))}
        db.session.execute(sa.delete(CalendarDay).where(CalendarDay.year == year))
    else:
        row = CalendarYear(year=year)
        db.session.add(row)
    row.source, row.loaded_at = library_version(), clock.now()
    rows = library_days(year)
    for day, working, name in rows:
        db.session.add(
            CalendarDay(day=day, year=year, working=working, name=name, source="library")
        )
    audit.record(
        "calendar.load", "work_calendar_year", year, before, {"days": len(rows), "from": row.source}
    )
    db.session.flush()
    forget_loaded()
    return row


def set_day(day: date, *, working: bool, name: str) -> CalendarDay:
    """Mark a day as a day off or as a make-up working day (補班), with its name."""
    _check_year(day.year)
    name = clean_text(name, _l("Name"), limit=100)
    if working and day.weekday() < 5:
        raise InvalidInput(_l("A make-up working day is a Saturday or a Sunday."))
    if not working and not name:
        raise InvalidInput(_l("Give the day off a name (e.g. 颱風停班)."))
    load_year(day.year)
    row = db.session.get(CalendarDay, day)
    before = None if row is None else {"working": row.working, "name": row.name}
    if row is None:
        row = CalendarDay(day=day, year=day.year)
        db.session.add(row)
    row.working, row.name, row.source = working, name or MAKE_UP_NAME, "manual"
    audit.record(
        "calendar.set_day",
        "work_calendar_day",
        day.isoformat(),
        before,
        {"working": working, "name": row.name},
    )
    db.session.flush()
    forget_loaded()
    return row


def remove_day(day: date) -> None:
    """Make a day an ordinary day again (a weekday works, a weekend day is off)."""
    _check_year(day.year)
    load_year(day.year)
    row = db.session.get(CalendarDay, day)
    if row is None:
        raise InvalidInput(_l("%(day)s is not in the list.", day=day.isoformat()))
    audit.record(
        "calendar.remove_day",
        "work_calendar_day",
        day.isoformat(),
        {"working": row.working, "name": row.name},
        None,
    )
    db.session.delete(row)
    db.session.flush()
    forget_loaded()
