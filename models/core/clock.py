"""The one source of "now" for CityDesk, movable in tests.

Every operation that records a time calls `now()`; the SLA clock is the server's, never the
browser's. Tests use `freeze()`/`advance()` instead of sleeping.
"""

import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")

_frozen: datetime | None = None


def now() -> datetime:
    """Return the current instant, timezone-aware in UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def freeze(at: datetime) -> datetime:
    """Stop the clock at `at` (aware) until `advance()` or `unfreeze()`."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze() needs an aware datetime")
    _frozen = at.astimezone(UTC)
    return _frozen


def advance(**delta: float) -> datetime:
    """Move a frozen clock forward by `timedelta(**delta)`."""
    global _frozen
    if _frozen is None:
        freeze(datetime.now(UTC))
    _frozen = _frozen + timedelta(**delta)
    return _frozen


def unfreeze() -> None:
    """Let the clock follow real time again."""
    global _frozen
    _frozen = None


def frozen_at() -> datetime | None:
    """Where the clock is stopped, or None while it follows real time."""
    return _frozen


def minutes(seconds: int | Fraction | None) -> float | None:
    """Seconds as minutes with one decimal, rounded half up (None stays None)."""
    if seconds is None:
        return None
    exact = Fraction(seconds) / 60  # exact: 183 s is 3.05 min, which rounds up to 3.1
    tenths = (Decimal(exact.numerator) / exact.denominator).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(tenths)


def whole_seconds(span: timedelta) -> int:
    """A span in whole seconds, rounded half up (as the roll-up's SQL rounds a wait)."""
    exact = Decimal(str(span.total_seconds()))
    return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def is_past(deadline: datetime, at: datetime) -> bool:
    """A deadline has passed at `at` (in Python; `Dispatch.past_deadline` is it in SQL)."""
    return at > deadline


def local(at: datetime) -> datetime:
    """The same instant in Asia/Taipei time."""
    return at.astimezone(TAIPEI)


def taipei_year(at: datetime) -> int:
    """The Asia/Taipei calendar year an instant belongs to."""
    return local(at).year


def today() -> date:
    """Today's date in Asia/Taipei."""
    return local(now()).date()


def roc_year(year: int) -> int:
    """ROC (民國) year of a Gregorian year."""
    return year - ROC_OFFSET


ROC_OFFSET = 1911  # ROC year 1 is 1912


def gregorian_year(roc: int) -> int:
    """Gregorian year of an ROC (民國) year."""
    return roc + ROC_OFFSET


def roc_date(day: date) -> str:
    """A date as an ROC date: 113/01/05."""
    return f"{roc_year(day.year)}/{day:%m/%d}"


def roc_datetime(at: datetime, seconds: bool = False) -> str:
    """An instant as an ROC date and Taipei time: 113/01/05 14:03 (14:03:09 with seconds)."""
    wall = local(at)
    text = f"{roc_date(wall)} {wall:%H:%M}"
    return text + f":{wall:%S}" if seconds else text


def parse_year(value: object) -> int:
    """The Gregorian year of a year typed as ROC (115, 民國115年) or Gregorian (2026).

    One rule everywhere a person types a year: one to three digits are an ROC year, four
    digits a Gregorian one (full-width digits too); anything else (blank, 0, 12345, "abc")
    raises ValueError.
    """
    text = unicodedata.normalize("NFKC", str(value)).strip() if value is not None else ""
    text = text.removeprefix("民國").strip()
    for suffix in ("年度", "年"):
        text = text.removesuffix(suffix).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= len(text) <= 4:
        raise ValueError(f"not a year: {value!r}")
    number = int(text)
    if len(text) == 4:
        if number < 1000:  # "0115" is not a Gregorian year
            raise ValueError(f"not a year: {value!r}")
        return number
    if number < 1:
        raise ValueError(f"not a year: {value!r}")
    return number + ROC_OFFSET


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """UTC instants [start, end) of an Asia/Taipei calendar year."""
    start = datetime(year, 1, 1, tzinfo=TAIPEI).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=TAIPEI).astimezone(UTC)
    return start, end


FIRST_DAY, LAST_DAY = date(1990, 1, 1), date(2200, 12, 31)  # no record lies outside these


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """UTC instants [start, end) of an Asia/Taipei calendar day, for date filters.

    Days outside 1990-2200 are clamped (no record lies there; no instant overflows).
    """
    day = min(max(day, FIRST_DAY), LAST_DAY)
    start = datetime.combine(day, datetime.min.time(), TAIPEI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def parse_local(text: str) -> datetime:
    """Parse ISO 8601; a value without an offset is Asia/Taipei local time."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=TAIPEI)
    return value.astimezone(UTC)


def in_year(column, year: int):
    """SQL condition: the timestamp `column` falls in the Asia/Taipei calendar year `year`."""
    from sqlalchemy import and_

    start, end = year_bounds(year)
    return and_(column >= start, column < end)
