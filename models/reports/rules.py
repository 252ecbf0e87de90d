"""The report's own rules: which years, the rate and its rounding, target met, what is needed to
reach it, percentiles, Taipei months and a defect's due status (DESIGN "The rules")."""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from flask_babel import gettext as _
from sqlalchemy import bindparam, case, literal, select

from models import workdays
from models.core import clock, db
from models.core.errors import InvalidInput
from models.core.types import UTCDateTime
from models.dispatch import Outcome, on_time_rate
from models.facility import FIXED_STATES, Defect
from models.reference import YearTarget

FIRST_YEAR = 2000
LAST_YEAR = 2100
COUNTED = (Outcome.ON_TIME.value, Outcome.LATE.value)
EXCLUDED = (Outcome.CANCELLED.value, Outcome.TRANSFERRED.value)
# The outcome filters of the evidence lists: a figure's name → the outcomes behind it.
OUTCOME_FILTERS: dict[str, tuple[str, ...]] = {
    "counted": COUNTED,
    "excluded": EXCLUDED,
    **{o.value: (o.value,) for o in Outcome},
}
DEFECT_STATUSES = ("found", "fixed", "open", "within_due", "past_due", "not_yet_due")
HUNDREDTHS = Decimal("0.01")
TENTHS = Decimal("0.1")


# --- Numbers ----------------------------------------------------------------------------------


# The rate rule lives with the dispatch outcomes; the report uses it as it is.
rate = on_time_rate


@dataclass(frozen=True)
class TargetInEffect:
    """The on-time target that applies to a year, and the year it was set for."""

    value: Decimal
    set_for: int  # the year whose own target this is (earlier than `year` when carried)
    year: int

    @property
    def carried(self) -> bool:
        """True when the year has no target of its own and uses an earlier year's."""
        return self.set_for != self.year


def target_in_effect(year: int) -> TargetInEffect | None:
    """The target in effect for `year` (DESIGN "Targets carry forward"): its own, else the
    latest earlier year's; None when no target is set for it or any year before it."""
    row = db.session.scalar(
        select(YearTarget).where(YearTarget.year <= year).order_by(YearTarget.year.desc()).limit(1)
    )
    return None if row is None else TargetInEffect(row.dispatch_target, row.year, year)


def target_fields(target: TargetInEffect | None) -> dict:
    """The target as every report output carries it: `target` (85, 87.5 or null),
    `target_year` (the year it was set for) and `target_carried` (set for an earlier year)."""
    return {
        "target": json_number(target.value) if target else None,
        "target_year": target.set_for if target else None,
        "target_carried": bool(target and target.carried),
    }


def per_year(build):
    """Build a statement that depends on the year alone once per process (and year): on a
    small year, building it with its subqueries costs more than running it. Statements are
    immutable, so every request and thread may share them."""
    return functools.lru_cache(maxsize=64)(build)


REPORT_AT = "report_at"  # the bound parameter of the report's instant in cached statements


def report_at_param():
    """The instant of a report, bound when the statement is used (so it can be built once)."""
    return bindparam(REPORT_AT, type_=UTCDateTime())


def target_met(value: Decimal | None, target: Decimal | None) -> bool | None:
    """Met when the rounded rate ≥ the target; None when there is no rate or no target."""
    if value is None or target is None:
        return None
    return value >= target


def needed_in_a_row(on_time: int, counted: int, target: Decimal | None) -> int | None:
    """How many on-time arrivals in a row bring the rounded rate to the target (0 when met)."""
    if target is None:
        return None

    def reaches(n: int) -> bool:
        value = rate(on_time + n, counted + n)
        return value is not None and value >= target

    if reaches(0):
        return 0
    high = 1
    while not reaches(high):
        high *= 2
        if high > 10**12:
            return None  # a target above 100 can never be reached
    low = high // 2  # reaches(low) is False (or low == 0, checked above)
    while high - low > 1:
        middle = (low + high) // 2
        if reaches(middle):
            high = middle
        else:
            low = middle
    return high


def json_number(value: Decimal | float | None) -> int | float | None:
    """A Decimal or float as a JSON number: an int when whole (85), else a float (87.5)."""
    if value is None:
        return None
    if value == int(value):
        return int(value)
    return float(value)


def json_rate(value: Decimal | None) -> float | None:
    """A rate as a JSON number (86.44, 80.0); None stays None."""
    return None if value is None else float(value)


def percentile(histogram: Iterable[tuple[int, int]], fraction: Fraction) -> Fraction | None:
    """The percentile of (value, count) pairs by linear interpolation (as PERCENTILE.INC)."""
    pairs = sorted((v, n) for v, n in histogram if n > 0 and v is not None)
    total = sum(n for _v, n in pairs)
    if total == 0:
        return None
    position = Fraction(total - 1) * fraction
    lower_index = int(position)
    weight = position - lower_index

    def value_at(index: int) -> int:
        seen = 0
        for value, count in pairs:
            seen += count
            if index < seen:
                return value
        return pairs[-1][0]

    lower = value_at(lower_index)
    if weight == 0:
        return Fraction(lower)
    upper = value_at(lower_index + 1)
    return lower + (upper - lower) * weight


def round_fraction(value: Fraction | None, places: Decimal) -> float | None:
    """A Fraction rounded half up to `places`, as a JSON number."""
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(places, ROUND_HALF_UP))


# --- Time slices ------------------------------------------------------------------------------


def not_a_year(value: object) -> str:
    """The message for a year that is neither an ROC nor a Gregorian year."""
    this_year = clock.today().year
    return _(
        "“%(value)s” is not a year: type it as an ROC year (such as %(roc)s) or a Gregorian "
        "year (such as %(year)s).",
        value=value,
        roc=clock.roc_year(this_year),
        year=this_year,
    )


def check_year(year: int, at: datetime | None = None) -> int:
    """A year a report can be made for, typed as ROC (112) or Gregorian (2023): 2000..2100
    and not after the current Taipei year."""
    try:
        year = clock.parse_year(year)
    except ValueError:
        raise InvalidInput(not_a_year(year)) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(
            _("The year must be between %(first)s and %(last)s", first=FIRST_YEAR, last=LAST_YEAR)
        )
    if year > clock.taipei_year(at or clock.now()):
        raise InvalidInput(_("%(year)s has not started yet: there is no report for it", year=year))
    return year


def month_starts(year: int) -> list[datetime]:
    """The 13 UTC instants at which the Taipei months of `year` (and the next January) start."""
    starts = [datetime(year, month, 1, tzinfo=clock.TAIPEI) for month in range(1, 13)]
    starts.append(datetime(year + 1, 1, 1, tzinfo=clock.TAIPEI))
    return [s.astimezone(UTC) for s in starts]


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """UTC instants [start, end) of one Taipei month."""
    if not 1 <= month <= 12:
        raise InvalidInput(_("The month must be between 1 and 12"))
    starts = month_starts(year)
    return starts[month - 1], starts[month]


def month_expr(column, year: int):
    """SQL: the Taipei month (1-12) of a timestamp known to fall in `year` (a nested CASE that
    halves the months at each step: four comparisons a row instead of up to eleven)."""
    starts = month_starts(year)  # starts[m] is the instant month m + 1 begins

    def months(first: int, last: int):
        if first == last:
            return literal(first)
        middle = (first + last) // 2
        return case(
            (column < starts[middle], months(first, middle)), else_=months(middle + 1, last)
        )

    return months(1, 12)


def period_days(year: int, at: datetime) -> int:
    """Days of the year up to and including today (the whole year once it is over)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    today = clock.local(at).date()
    return ((min(today, last) - first).days + 1) if today >= first else 0


# --- Defects: fixed, due date and due status (one rule for figures, evidence and raw rows) ---


def is_fixed():
    """SQL: the defect's ticket reached fixed or verified."""
    return Defect.state.in_([s.value for s in FIXED_STATES])


def as_date(value) -> date | None:
    """A date read from SQL (a date, or ISO text on SQLite) as a date; None stays None."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class DueDates:
    """Due dates and due statuses of one report's defects, on the one working-day calendar
    (`models.workdays`). Each answer is remembered for this report only: thousands of defects
    share a few hundred (found, fixed) pairs, and the calendar may be edited between reports."""

    def __init__(self):
        self._calendar = workdays.current()  # the process's calendar (checked once a report)
        self._after: dict[tuple[date, int], date] = {}
        self._between: dict[tuple[date, date], int] = {}

    def due_date(self, found: date, category_days: int, due_on: date | None) -> date:
        """A defect's due date: its own `due_on`, else found + the category's working days."""
        if due_on is not None:
            return due_on
        key = (found, category_days)
        if key not in self._after:
            self._after[key] = self._calendar.add_working_days(found, category_days)
        return self._after[key]

    def due_status(
        self, found: date, fixed: date | None, due_on: date | None, category_days: int, today: date
    ) -> str:
        """within_due (fixed by the due date), past_due (fixed later, or still open after it)
        or not_yet_due (open, due date not passed). Dates are Taipei calendar dates."""
        due = self.due_date(found, category_days, due_on)
        if fixed is not None:
            return "within_due" if fixed <= due else "past_due"
        return "past_due" if today > due else "not_yet_due"

    def days_to_fix(self, found: date, fixed: date) -> int:
        """Working days from the day a defect was found to the day it was fixed."""
        key = (found, fixed)
        if key not in self._between:
            self._between[key] = self._calendar.working_days_between(found, fixed)
        return self._between[key]
