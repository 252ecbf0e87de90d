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

Speed: the calendar is kept per process, keyed by the revision of every year kept in the
database (`work_calendar_year.revision`, a new random token at each edit): an application
context (one request, one job run) reads those revisions once (one small query), and reuses the
process's calendar while they are unchanged, so an edit made in another worker is seen by the
next request here. Its days and answers (n working days after a date, working days between two
dates) are computed once per process. Outside an application context the package's calendar is
used.
"""

import functools
import secrets
import threading
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
    # A new random token at each edit of the year (see `current()`): never reused, so a token
    # of an edit that was rolled back can never name other days.
    revision: Mapped[str] = mapped_column(String(32), server_default="0")


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


def _revisions() -> tuple[tuple[int, str], ...]:
    """The years kept in the database and their revisions (one small query)."""
    rows = db.session.execute(
        select(CalendarYear.year, CalendarYear.revision).order_by(CalendarYear.year)
    )
    return tuple((year, revision) for year, revision in rows)


def _database_loader(revisions: tuple[tuple[int, str], ...]):
    kept = dict(revisions)

    def load(year: int) -> YearDays:
        if year not in kept:
            return _from_rows(library_days(year))
        rows = db.session.execute(
            select(CalendarDay.day, CalendarDay.working, CalendarDay.name).where(
                CalendarDay.year == year
            )
        )
        return _from_rows(rows)

    return load


class WorkCalendar:
    """Answers working-day questions, loading each year once."""

    MAX_ANSWERS = 200_000  # remembered answers, then forgotten all at once

    def __init__(self, loader):
        self._loader = loader
        self._years: dict[int, YearDays] = {}
        self._after: dict[tuple[date, int], date] = {}
        self._between: dict[tuple[date, date], int] = {}

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

    def _remember(self, answers: dict, key, value):
        if len(answers) >= self.MAX_ANSWERS:
            answers.clear()
        answers[key] = value
        return value

    def add_working_days(self, start: date, n: int) -> date:
        """The date `n` working days after `start`."""
        answer = self._after.get((start, n))
        if answer is None:
            answer = self._remember(self._after, (start, n), self._add_working_days(start, n))
        return answer

    def _add_working_days(self, start: date, n: int) -> date:
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
        answer = self._between.get((start, end))
        if answer is None:
            answer = self._remember(
                self._between, (start, end), self._working_days_between(start, end)
            )
        return answer

    def _working_days_between(self, start: date, end: date) -> int:
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


_PROCESS_CALENDARS: dict[tuple, WorkCalendar] = {}  # by revisions; the latest few
_PROCESS_LOCK = threading.Lock()
KEPT_CALENDARS = 4


def current() -> WorkCalendar:
    """The calendar for this application context (database-backed, kept per process while the
    database's revisions are unchanged), else the package's."""
    if not has_app_context():
        return _LIBRARY_CALENDAR
    calendar = g.get("_work_calendar")
    if calendar is None:
        revisions = _revisions()
        with _PROCESS_LOCK:
            calendar = _PROCESS_CALENDARS.get(revisions)
            if calendar is None:
                while len(_PROCESS_CALENDARS) >= KEPT_CALENDARS:
                    _PROCESS_CALENDARS.pop(next(iter(_PROCESS_CALENDARS)))
                calendar = _PROCESS_CALENDARS[revisions] = WorkCalendar(_database_loader(revisions))
        g._work_calendar = calendar
    return calendar


def forget_loaded() -> None:
    """Read the revisions again in this context (after an edit, which changed one)."""
    if has_app_context():
        g.pop("_work_calendar", None)


def forget_process_calendars() -> None:
    """Drop every calendar this process keeps (tests that rewrite the tables directly)."""
    with _PROCESS_LOCK:
        _PROCESS_CALENDARS.clear()
    forget_loaded()


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


def new_revision() -> str:
    """A fresh revision token for an edited year."""
    return secrets.token_hex(16)


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
    row.revision = new_revision()
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
    db.session.get(CalendarYear, day.year).revision = new_revision()
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
    db.session.get(CalendarYear, day.year).revision = new_revision()
    db.session.flush()
    forget_loaded()
