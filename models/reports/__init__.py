"""The yearly compliance roll-up (年度達成率): the one function every report output comes from.

`yearly_report(year)` builds the figures of DESIGN "The rules" for one Asia/Taipei calendar year:
the dispatch on-time rate against the year's target, the defects found and fixed per category,
the narrative sentences of the published report, and the previous year beside it. The page, the
CSV/XLSX/JSON downloads, `citydesk report yearly` and `GET /api/v1/reports/yearly` all render
its result; none of them counts anything itself.

The counting is done by the database: a handful of GROUP BY queries over the year's rows (the
outcome of a dispatch is `Dispatch.outcome_expr()`, the single implementation of "What the rate
counts"); Python only adds up the grouped rows and rounds. A Taipei month is found by comparing
the UTC timestamp with the UTC instants at which Taipei months start, so it is exact and the
same on SQLite and PostgreSQL.

A year can be closed (`close_year`): its figures are frozen in a `ReportSnapshot`; later changes
to its records show as a restatement beside the frozen figures.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, case, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput
from models.core.sqlfuncs import seconds_between, taipei_date
from models.dispatch import Dispatch, Outcome, on_time_rate
from models.facility import FIXED_STATES, Defect, InspectionPlan, InspectionRound
from models.reference import Agency, DefectCategory, Floor, Zone, sla_seconds, target_for
from models.workdays import add_working_days, working_days_between

FIRST_YEAR = 2000
LAST_YEAR = 2100
# DESIGN "Defects": the four categories, always listed in this order.
CATEGORY_ORDER = ("corridor", "facility", "cleanliness", "ceiling_floor")
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


def format_target(target: Decimal | float | int | None) -> str:
    """A target as DESIGN writes it: without trailing zeros (85, 87.5); — when unset."""
    if target is None:
        return "—"
    value = Decimal(str(target)).normalize()
    return f"{value:f}"


def format_rate(value: Decimal | float | None) -> str:
    """A rate always with two decimals (86.44, 80.00); — when there is none."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)).quantize(HUNDREDTHS, ROUND_HALF_UP):f}"


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


def _json_number(value: Decimal | None) -> int | float | None:
    """A Decimal as a JSON number: an int when whole (85), else a float (87.5)."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _json_rate(value: Decimal | None) -> float | None:
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


def _round_fraction(value: Fraction | None, places: Decimal) -> float | None:
    """A Fraction rounded half up to `places`, as a JSON number."""
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(places, ROUND_HALF_UP))


# --- Time slices ------------------------------------------------------------------------------


def check_year(year: int, at: datetime | None = None) -> int:
    """A year a report can be made for: 2000..2100 and not after the current Taipei year."""
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise InvalidInput(_("The year must be a number such as 2023")) from None
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


def _is_fixed():
    return Defect.state.in_([s.value for s in FIXED_STATES])


# --- Defect due dates (one rule for the figures, the evidence and the raw rows) --------------


class WorkingDays:
    """The working-day answers of one report, memoised for that report only (the calendar may
    be edited between two reports, so nothing is kept longer)."""

    def __init__(self):
        self._after: dict[tuple[date, int], date] = {}
        self._between: dict[tuple[date, date], int] = {}

    def due_date(self, found: date, category_days: int, due_on: date | None) -> date:
        """A defect's due date: its own `due_on`, else found + the category's working days."""
        if due_on is not None:
            return due_on
        key = (found, category_days)
        if key not in self._after:
            self._after[key] = add_working_days(found, category_days)
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
            self._between[key] = working_days_between(found, fixed)
        return self._between[key]


# --- Reference rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Refs:
    agencies: dict[int, Agency]
    categories: list[DefectCategory]
    zones: list[Zone]


def _refs() -> _Refs:
    agencies = {a.id: a for a in db.session.scalars(select(Agency))}
    rank = {code: i for i, code in enumerate(CATEGORY_ORDER)}
    categories = sorted(
        db.session.scalars(select(DefectCategory)),
        key=lambda c: (rank.get(c.code, len(rank)), c.sort_order, c.code),
    )
    zones = sorted(db.session.scalars(select(Zone)), key=lambda z: (z.sort_order, z.code))
    return _Refs(agencies, categories, zones)


def _names(row) -> dict[str, str]:
    return {"name_zh": row.name_zh, "name_en": row.name_en}


# --- Dispatch figures -------------------------------------------------------------------------


def _counts(counter: Counter) -> dict[str, Any]:
    """Counted, on time, late, pending, cancelled, transferred and the rate of an outcome tally."""
    on_time, late = counter[Outcome.ON_TIME.value], counter[Outcome.LATE.value]
    return {
        "counted": on_time + late,
        "on_time": on_time,
        "late": late,
        "pending": counter[Outcome.PENDING.value],
        "cancelled": counter[Outcome.CANCELLED.value],
        "transferred": counter[Outcome.TRANSFERRED.value],
        "rate": _json_rate(rate(on_time, on_time + late)),
    }


def dispatch_tally_query(year: int, at: datetime):
    """SQL: dispatches of the year counted by agency, Taipei month, outcome and SLA length."""
    rows = (
        select(
            Dispatch.agency_id.label("agency_id"),
            month_expr(Dispatch.notified_at, year).label("month"),
            Dispatch.outcome_expr(at).label("outcome"),
            Dispatch.sla_seconds.label("sla_seconds"),
        )
        .where(clock.in_year(Dispatch.notified_at, year))
        .subquery()
    )
    keys = (rows.c.agency_id, rows.c.month, rows.c.outcome, rows.c.sla_seconds)
    # Grouped month first: grouped agency first, SQLite would walk (agency_id, notified_at)
    # and visit the table instead of reading the covering index range.
    return select(*keys, func.count().label("n")).group_by(*keys[1:], keys[0])


def duration_histogram_query(year: int, until_column):
    """SQL: how many dispatches of the year took each whole number of seconds from notice."""
    rows = (
        select(seconds_between(Dispatch.notified_at, until_column).label("seconds"))
        .where(clock.in_year(Dispatch.notified_at, year), until_column.is_not(None))
        .subquery()
    )
    return select(rows.c.seconds, func.count().label("n")).group_by(rows.c.seconds)


def _minutes(histogram: list[tuple[int, int]]) -> dict[str, Any]:
    count = sum(n for _s, n in histogram)

    def minutes(fraction: Fraction) -> float | None:
        seconds = percentile(histogram, fraction)
        return _round_fraction(None if seconds is None else seconds / 60, TENTHS)

    return {
        "count": count,
        "median": minutes(Fraction(1, 2)),
        "p90": minutes(Fraction(9, 10)),
    }


def _dispatch_figures(year: int, at: datetime, refs: _Refs) -> dict[str, Any]:
    totals: Counter = Counter()
    by_agency: dict[int, Counter] = defaultdict(Counter)
    by_month: dict[int, Counter] = {m: Counter() for m in range(1, 13)}
    sla_lengths: Counter = Counter()
    for agency_id, month, outcome, sla, n in db.session.execute(dispatch_tally_query(year, at)):
        totals[outcome] += n
        by_agency[agency_id][outcome] += n
        by_month[int(month)][outcome] += n
        sla_lengths[sla] += n
    counts = _counts(totals)
    target = target_for(year)
    value = rate(counts["on_time"], counts["counted"])
    agencies = sorted(
        (refs.agencies[a] for a in by_agency),
        key=lambda a: (not a.has_desk, a.sort_order, a.code),
    )
    # The time limit the narrative names: the one the year's dispatches ran under (the setting
    # in force when there are none); None when it changed during the year.
    lengths = set(sla_lengths) or {sla_seconds()}
    sla_minutes = None
    if len(lengths) == 1:
        sla_minutes = _json_number((Decimal(lengths.pop()) / 60).quantize(TENTHS, ROUND_HALF_UP))
    ytd = None
    if year == clock.taipei_year(at):
        ytd = {
            "as_of": at.isoformat(),
            "needed_in_a_row": needed_in_a_row(counts["on_time"], counts["counted"], target),
        }
    arrival = db.session.execute(duration_histogram_query(year, Dispatch.arrived_at)).all()
    ack = db.session.execute(duration_histogram_query(year, Dispatch.acknowledged_at)).all()
    return {
        "counted": counts["counted"],
        "on_time": counts["on_time"],
        "late": counts["late"],
        "pending": counts["pending"],
        "excluded": {"cancelled": counts["cancelled"], "transferred": counts["transferred"]},
        "total": sum(totals.values()),
        "rate": counts["rate"],
        "target": _json_number(target),
        "target_met": target_met(value, target),
        "sla_minutes": sla_minutes,
        "year_to_date": ytd,
        "by_agency": [
            {"agency": a.code, **_names(a), **_counts(by_agency[a.id])} for a in agencies
        ],
        "by_month": [{"month": m, **_counts(by_month[m])} for m in range(1, 13)],
        "minutes_to_arrival": _minutes([tuple(r) for r in arrival]),
        "minutes_to_acknowledgement": _minutes([tuple(r) for r in ack]),
    }


# --- Defect figures ---------------------------------------------------------------------------


def defect_tally_query(year: int):
    """SQL: defects found in the year counted by category, zone and fixed-or-not."""
    rows = (
        select(
            Defect.category_id.label("category_id"),
            Defect.zone_id.label("zone_id"),
            case((_is_fixed(), 1), else_=0).label("fixed"),
        )
        .where(clock.in_year(Defect.found_at, year))
        .subquery()
    )
    keys = (rows.c.category_id, rows.c.zone_id, rows.c.fixed)
    return select(*keys, func.count().label("n")).group_by(*keys[::-1])


def defect_dates_query(year: int):
    """SQL: defects of the year counted by category, Taipei found date, fixed date and due date."""
    rows = (
        select(
            Defect.category_id.label("category_id"),
            taipei_date(Defect.found_at).label("found_on"),
            case((_is_fixed(), taipei_date(Defect.fixed_at)), else_=None).label("fixed_on"),
            Defect.due_on.label("due_on"),
        )
        .where(clock.in_year(Defect.found_at, year))
        .subquery()
    )
    keys = (rows.c.category_id, rows.c.found_on, rows.c.fixed_on, rows.c.due_on)
    return select(*keys, func.count().label("n")).group_by(*keys[1:], keys[0])


def rounds_query(year: int):
    """SQL: finished inspection rounds started in the year, per zone."""
    return (
        select(InspectionRound.zone_id, func.count().label("n"))
        .where(
            clock.in_year(InspectionRound.started_at, year),
            InspectionRound.finished_at.is_not(None),
        )
        .group_by(InspectionRound.zone_id)
    )


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _due_figures(within: int, past: int, not_yet: int) -> dict[str, Any]:
    return {
        "within_due": within,
        "past_due": past,
        "not_yet_due": not_yet,
        "share_within_due": _json_rate(rate(within, within + past)),
    }


def _period_days(year: int, at: datetime) -> int:
    """Days of the year up to and including today (the whole year once it is over)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    today = clock.local(at).date()
    return ((min(today, last) - first).days + 1) if today >= first else 0


def _defect_figures(year: int, at: datetime, refs: _Refs) -> dict[str, Any]:
    today = clock.local(at).date()
    calendar = WorkingDays()
    by_category: dict[int, Counter] = defaultdict(Counter)
    by_zone: dict[int, Counter] = defaultdict(Counter)
    for category_id, zone_id, fixed, n in db.session.execute(defect_tally_query(year)):
        key = "fixed" if fixed else "open"
        by_category[category_id][key] += n
        by_zone[zone_id][key] += n

    days_by_category: dict[int, Counter] = defaultdict(Counter)
    due_by_category: dict[int, Counter] = defaultdict(Counter)
    category_days = {c.id: c.due_working_days for c in refs.categories}
    for category_id, found_on, fixed_on, due_on, n in db.session.execute(defect_dates_query(year)):
        found_on, fixed_on, due_on = _as_date(found_on), _as_date(fixed_on), _as_date(due_on)
        status = calendar.due_status(found_on, fixed_on, due_on, category_days[category_id], today)
        due_by_category[category_id][status] += n
        if fixed_on is not None:
            days_by_category[category_id][calendar.days_to_fix(found_on, fixed_on)] += n

    def median_days(histogram: Counter) -> float | None:
        return _round_fraction(percentile(histogram.items(), Fraction(1, 2)), TENTHS)

    categories = []
    all_days: Counter = Counter()
    all_due: Counter = Counter()
    for category in refs.categories:
        tally, due = by_category[category.id], due_by_category[category.id]
        all_days.update(days_by_category[category.id])
        all_due.update(due)
        categories.append(
            {
                "category": category.code,
                **_names(category),
                "due_working_days": category.due_working_days,
                "found": tally["fixed"] + tally["open"],
                "fixed": tally["fixed"],
                "open": tally["open"],
                "median_working_days_to_fix": median_days(days_by_category[category.id]),
                **_due_figures(due["within_due"], due["past_due"], due["not_yet_due"]),
            }
        )
    zones = [z for z in refs.zones if z.active or z.id in by_zone]
    fixed = sum(c["fixed"] for c in categories)
    found = sum(c["found"] for c in categories)

    plans = {p.zone_id: p for p in db.session.scalars(select(InspectionPlan))}
    done = dict(db.session.execute(rounds_query(year)).all())
    period_days = _period_days(year, at)
    rounds = []
    for zone in refs.zones:
        plan = plans.get(zone.id)
        active_plan = plan is not None and plan.active and plan.frequency_days > 0
        if not active_plan and not done.get(zone.id):
            continue
        rounds.append(
            {
                "zone": zone.code,
                **_names(zone),
                "done": done.get(zone.id, 0),
                "planned": period_days // plan.frequency_days if active_plan else None,
                "frequency_days": plan.frequency_days if active_plan else None,
            }
        )
    return {
        "found": found,
        "fixed": fixed,
        "open": found - fixed,
        "median_working_days_to_fix": median_days(all_days),
        **_due_figures(all_due["within_due"], all_due["past_due"], all_due["not_yet_due"]),
        "by_category": categories,
        "by_zone": [
            {
                "zone": z.code,
                **_names(z),
                "found": by_zone[z.id]["fixed"] + by_zone[z.id]["open"],
                "fixed": by_zone[z.id]["fixed"],
                "open": by_zone[z.id]["open"],
            }
            for z in zones
        ],
        "inspection_rounds": rounds,
    }


# --- Narrative --------------------------------------------------------------------------------


def narrative(year: int, dispatch: dict, defects: dict) -> list[str]:
    """The two sentences of the published report, written from the figures (always Chinese)."""
    roc = clock.roc_year(year)
    minutes = dispatch.get("sla_minutes")
    limit = f"{format_target(minutes)}分鐘" if minutes is not None else "規定時限"
    first = (
        f"{roc}年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計{dispatch['counted']}件。"
        f"其中計有{dispatch['late']}件超過{limit}到場，"
    )
    if dispatch["rate"] is None:
        first += "尚無可計算之年度達成率。"
    elif dispatch["target"] is None:
        first += f"年度達成率為{format_rate(dispatch['rate'])}%。"
    else:
        verdict = "已達" if dispatch["target_met"] else "未達"
        first += (
            f"年度達成率為{format_rate(dispatch['rate'])}%，"
            f"{verdict}{roc}年度訂定之{format_target(dispatch['target'])}%目標值。"
        )
    parts = "、".join(f"{c['name_zh']}{c['fixed']}件" for c in defects["by_category"])
    second = f"{roc}年度缺失案件並完成改善總計{defects['fixed']}件({parts})。"
    return [first, second]


# --- The report -------------------------------------------------------------------------------


def figures(year: int, at: datetime | None = None, refs: _Refs | None = None) -> dict[str, Any]:
    """The live roll-up of one Taipei calendar year, as JSON-ready data."""
    at = at or clock.now()
    year = check_year(year, at)
    refs = refs or _refs()
    dispatch = _dispatch_figures(year, at, refs)
    defects = _defect_figures(year, at, refs)
    return {
        "year": year,
        "roc_year": clock.roc_year(year),
        "as_of": at.isoformat(),
        "complete": at >= clock.year_bounds(year)[1],
        "dispatch": dispatch,
        "defects": defects,
        "narrative": narrative(year, dispatch, defects),
    }


# Covering indexes for the roll-up: a year's figures are read from the index range alone.
Index(
    "ix_dispatch_report",
    Dispatch.notified_at,
    Dispatch.agency_id,
    Dispatch.state,
    Dispatch.deadline_at,
    Dispatch.arrived_at,
    Dispatch.ended_at,
    Dispatch.sla_seconds,
    Dispatch.acknowledged_at,
)
Index(
    "ix_defect_report",
    Defect.found_at,
    Defect.category_id,
    Defect.zone_id,
    Defect.state,
    Defect.fixed_at,
    Defect.due_on,
)


class ReportSnapshot(db.Model):
    """A closed year: its figures frozen as they stood when a supervisor closed it."""

    __tablename__ = "report_snapshot"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    closed_by_name: Mapped[str] = mapped_column(String(120), default="")
    closed_at: Mapped[datetime]


def snapshot(year: int) -> ReportSnapshot | None:
    """The frozen figures of a closed year, or None while it is open."""
    return db.session.get(ReportSnapshot, year)


def close_year(year: int, user) -> ReportSnapshot:
    """Close a finished year: freeze its figures now (audited). A year is closed only once."""
    at = clock.now()
    year = check_year(year, at)
    if year >= clock.taipei_year(at):
        raise InvalidInput(_("Only a year that has ended can be closed"))
    if snapshot(year) is not None:
        raise Conflict(_("%(year)s is closed already", year=year))
    frozen = figures(year, at)
    row = ReportSnapshot(
        year=year,
        figures=frozen,
        closed_by_id=user.id if user is not None else None,
        closed_by_name=(user.name or user.username) if user is not None else "",
        closed_at=at,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise Conflict(_("%(year)s is closed already", year=year)) from None
    audit.record(
        "report.close",
        "report_snapshot",
        year,
        None,
        {
            "counted": frozen["dispatch"]["counted"],
            "on_time": frozen["dispatch"]["on_time"],
            "late": frozen["dispatch"]["late"],
            "rate": frozen["dispatch"]["rate"],
            "defects_found": frozen["defects"]["found"],
            "defects_fixed": frozen["defects"]["fixed"],
        },
    )
    return row


# Keys that say when or in what words, not how many: never a restatement.
_NOT_FIGURES = {"as_of", "complete", "year_to_date", "name_zh", "name_en", "narrative"}
# The key that names each row of a table (restatement paths read dispatch.by_month.3.late).
_ROW_KEYS = ("agency", "month", "category", "zone")


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) for every figure in a report, e.g. ("dispatch.by_month.3.late", 2)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _NOT_FIGURES:
                continue
            yield from flatten(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            keys = [k for k in _ROW_KEYS if isinstance(item, dict) and k in item]
            name = str(item[keys[0]]) if keys else str(index)
            yield from flatten(item, f"{prefix}.{name}")
    else:
        yield prefix, data


def restatement(frozen: dict, current: dict) -> list[dict[str, Any]]:
    """The figures of a closed year that differ now from the frozen ones."""
    now = dict(flatten(current))
    changes = []
    for path, value in flatten(frozen):
        if path.endswith(("_zh", "_en")) or path in ("year", "roc_year"):
            continue
        if now.get(path) != value:
            changes.append({"figure": path, "frozen": value, "current": now.get(path)})
    frozen_paths = dict(flatten(frozen))
    for path, value in now.items():
        if path not in frozen_paths and value not in (0, None):
            changes.append({"figure": path, "frozen": None, "current": value})
    return changes


def _official(year: int, at: datetime, refs: _Refs) -> dict[str, Any]:
    """A year's figures as published: frozen when closed, live otherwise."""
    row = snapshot(year)
    return dict(row.figures) if row is not None else figures(year, at, refs)


def yearly_report(year: int, at: datetime | None = None) -> dict[str, Any]:
    """The yearly report: the year's figures, the previous year beside them, and its period
    state (closed by whom and when, and any restatement of frozen figures)."""
    at = at or clock.now()
    year = check_year(year, at)
    row = snapshot(year)
    refs = _refs()
    live = figures(year, at, refs)
    report = dict(row.figures) if row is not None else live
    period: dict[str, Any] = {
        "closed": row is not None,
        "closed_at": row.closed_at.isoformat() if row is not None else None,
        "closed_by": row.closed_by_name if row is not None else None,
        "restatement": restatement(row.figures, live) if row is not None else [],
    }
    if row is not None and period["restatement"]:
        period["current_narrative"] = live["narrative"]
    previous = _official(year - 1, at, refs) if year - 1 >= FIRST_YEAR else None
    return {**report, "previous_year": previous, "period": period}


def report_years(at: datetime | None = None) -> list[int]:
    """The years a report can be picked for, newest first: the first recorded year to now."""
    at = at or clock.now()
    current = clock.taipei_year(at)
    firsts = [
        db.session.scalar(select(func.min(Dispatch.notified_at))),
        db.session.scalar(select(func.min(Defect.found_at))),
    ]
    first = min([clock.taipei_year(f) for f in firsts if f is not None] + [current - 1])
    return list(range(current, max(first, FIRST_YEAR) - 1, -1))


# --- Evidence: the records behind each figure ------------------------------------------------


def dispatch_evidence(
    year: int,
    at: datetime | None = None,
    *,
    outcome: str | None = None,
    agency: str | None = None,
    month: int | None = None,
    timed: str | None = None,
):
    """A select() of (Dispatch, seconds to arrival) behind a figure (the counts' own rules).

    `outcome` is an Outcome value, `counted` or `excluded`; `agency` an agency code; `month` a
    Taipei month; `timed` = `arrival` or `acknowledgement` keeps those with that time, slowest
    first (the rows behind the median and 90th-percentile minutes).
    """
    at = at or clock.now()
    year = check_year(year, at)
    seconds = seconds_between(Dispatch.notified_at, Dispatch.arrived_at).label("seconds")
    stmt = select(Dispatch, seconds).where(clock.in_year(Dispatch.notified_at, year))
    if outcome:
        if outcome not in OUTCOME_FILTERS:
            raise InvalidInput(f"Unknown outcome: {outcome}")
        stmt = stmt.where(Dispatch.outcome_expr(at).in_(OUTCOME_FILTERS[outcome]))
    if agency:
        stmt = stmt.join(Dispatch.agency).where(Agency.code == agency)
    if month:
        start, end = month_bounds(year, int(month))
        stmt = stmt.where(Dispatch.notified_at >= start, Dispatch.notified_at < end)
    if timed:
        column = {"arrival": Dispatch.arrived_at, "acknowledgement": Dispatch.acknowledged_at}
        if timed not in column:
            raise InvalidInput(f"Unknown time: {timed}")
        until = column[timed]
        return stmt.where(until.is_not(None)).order_by(
            seconds_between(Dispatch.notified_at, until).desc(), Dispatch.notified_at
        )
    return stmt.order_by(Dispatch.notified_at, Dispatch.id)


def defect_evidence_ids(
    year: int,
    at: datetime | None = None,
    *,
    status: str | None = None,
    category: str | None = None,
    zone: str | None = None,
) -> list[int]:
    """Ids of the defects behind a defect figure, in the order found (the counts' rules).

    `status`: found, fixed, open, within_due, past_due or not_yet_due; `category` and `zone`
    are codes.
    """
    at = at or clock.now()
    year = check_year(year, at)
    status = status or "found"
    if status not in DEFECT_STATUSES:
        raise InvalidInput(f"Unknown defect status: {status}")
    stmt = (
        select(
            Defect.id,
            taipei_date(Defect.found_at),
            case((_is_fixed(), taipei_date(Defect.fixed_at)), else_=None),
            Defect.due_on,
            DefectCategory.due_working_days,
            _is_fixed(),
        )
        .join(DefectCategory, Defect.category_id == DefectCategory.id)
        .where(clock.in_year(Defect.found_at, year))
        .order_by(Defect.found_at, Defect.id)
    )
    if category:
        stmt = stmt.where(DefectCategory.code == category)
    if zone:
        stmt = stmt.join(Zone, Defect.zone_id == Zone.id).where(Zone.code == zone)
    if status == "fixed":
        stmt = stmt.where(_is_fixed())
    elif status == "open":
        stmt = stmt.where(~_is_fixed())
    rows = db.session.execute(stmt).all()
    if status in ("found", "fixed", "open"):
        return [r[0] for r in rows]
    today, calendar = clock.local(at).date(), WorkingDays()
    return [
        r[0]
        for r in rows
        if calendar.due_status(_as_date(r[1]), _as_date(r[2]), _as_date(r[3]), r[4], today)
        == status
    ]


def round_evidence(year: int, at: datetime | None = None, *, zone: str | None = None):
    """A select() of the finished inspection rounds behind the rounds-done figures."""
    year = check_year(year, at)
    stmt = select(InspectionRound).where(
        clock.in_year(InspectionRound.started_at, year), InspectionRound.finished_at.is_not(None)
    )
    if zone:
        stmt = stmt.join(Zone, InspectionRound.zone_id == Zone.id).where(Zone.code == zone)
    return stmt.order_by(InspectionRound.started_at)


# --- Raw rows (the XLSX sheets behind the tables) ---------------------------------------------


def dispatch_rows(year: int, at: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every dispatch of the year with its month and outcome as counted, streamed."""
    at = at or clock.now()
    stmt = (
        select(
            Dispatch.id,
            Dispatch.reference,
            Agency.code,
            Agency.name_zh,
            Dispatch.subject,
            Dispatch.state,
            Dispatch.notified_at,
            Dispatch.sla_seconds,
            Dispatch.deadline_at,
            Dispatch.acknowledged_at,
            Dispatch.arrived_at,
            Dispatch.ended_at,
            month_expr(Dispatch.notified_at, year),
            Dispatch.outcome_expr(at),
            seconds_between(Dispatch.notified_at, Dispatch.arrived_at),
        )
        .join(Agency, Dispatch.agency_id == Agency.id)
        .where(clock.in_year(Dispatch.notified_at, year))
        .order_by(Dispatch.notified_at, Dispatch.id)
        .execution_options(yield_per=2000)
    )
    keys = (
        "id",
        "reference",
        "agency",
        "agency_name",
        "subject",
        "state",
        "notified_at",
        "sla_seconds",
        "deadline_at",
        "acknowledged_at",
        "arrived_at",
        "ended_at",
        "month",
        "outcome",
        "seconds_to_arrival",
    )
    for row in db.session.execute(stmt):
        yield dict(zip(keys, row, strict=True))


def defect_rows(year: int, at: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every defect of the year with fixed-or-open, working days to fix and due status."""
    at = at or clock.now()
    today, calendar = clock.local(at).date(), WorkingDays()
    stmt = (
        select(
            Defect.id,
            Defect.reference,
            DefectCategory.code,
            DefectCategory.name_zh,
            DefectCategory.due_working_days,
            Zone.code,
            Zone.name_zh,
            Floor.code,
            Defect.source,
            Defect.state,
            Defect.found_at,
            Defect.fixed_at,
            Defect.due_on,
            taipei_date(Defect.found_at),
            case((_is_fixed(), taipei_date(Defect.fixed_at)), else_=None),
            _is_fixed(),
            Defect.description,
        )
        .join(DefectCategory, Defect.category_id == DefectCategory.id)
        .join(Zone, Defect.zone_id == Zone.id)
        .outerjoin(Floor, Defect.floor_id == Floor.id)
        .where(clock.in_year(Defect.found_at, year))
        .order_by(Defect.found_at, Defect.id)
        .execution_options(yield_per=2000)
    )
    for row in db.session.execute(stmt):
        found_on, fixed_on, due_on = _as_date(row[13]), _as_date(row[14]), _as_date(row[12])
        yield {
            "id": row[0],
            "reference": row[1],
            "category": row[2],
            "category_name": row[3],
            "zone": row[5],
            "zone_name": row[6],
            "floor": row[7],
            "source": row[8],
            "state": row[9],
            "found_at": row[10],
            "fixed": bool(row[15]),
            "fixed_at": row[11] if row[15] else None,
            "due_on": calendar.due_date(found_on, row[4], due_on),
            "working_days_to_fix": calendar.days_to_fix(found_on, fixed_on) if fixed_on else None,
            "due_status": calendar.due_status(found_on, fixed_on, due_on, row[4], today),
            "description": row[16],
        }


def minutes(seconds: int | None) -> float | None:
    """Whole seconds as minutes with one decimal, rounded half up (None stays None)."""
    return None if seconds is None else _round_fraction(Fraction(seconds, 60), TENTHS)
