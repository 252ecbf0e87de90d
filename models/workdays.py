"""Working days of the Taiwan calendar, for repair due dates and time-to-fix figures.

Interface used across areas (keep these signatures):
- `is_working_day(day)`
- `add_working_days(start, n)`: the date n working days after `start`
- `working_days_between(start, end)`: working days after `start` up to and including `end`

This first version knows weekends only; the facility area adds national holidays and make-up
working days (補班) as an editable per-year list behind the same functions.
"""

from datetime import date, timedelta


def is_working_day(day: date) -> bool:
    """True on a working day (Monday to Friday for now)."""
    return day.weekday() < 5


def add_working_days(start: date, n: int) -> date:
    """The date `n` working days after `start` (n >= 0; 0 gives `start`)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    day = start
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
