"""The yearly roll-up: the figures of one Asia/Taipei calendar year, counted by the database.

`figures(year)` builds the figures of DESIGN "The rules": the dispatch on-time rate against the
year's target, the defects found and fixed per category, zone and due date, the inspection
rounds, and the narrative sentences. The counting is done by a handful of GROUP BY queries over
the year's rows (the outcome of a dispatch is `Dispatch.outcome_expr()`, the single
implementation of "What the rate counts"); Python only adds up the grouped rows and rounds. A
Taipei month is found by comparing the UTC timestamp with the UTC instants at which Taipei
months start, so it is exact and the same on SQLite and PostgreSQL.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Index, case, func, select

from models.core import clock, db
from models.core.sqlfuncs import seconds_between, taipei_date
from models.dispatch import Dispatch, Outcome, RatingScore, Visit, VisitRating, satisfaction_share
from models.facility import Defect, InspectionPlan, InspectionRound
from models.reference import (
    Agency,
    DefectCategory,
    Zone,
    categories,
    sla_seconds,
)
from models.reports.late import add_late_reasons
from models.reports.narrative import narrative
from models.reports.rules import (
    FIRST_YEAR,
    REPORT_AT,
    TENTHS,
    DueDates,
    as_date,
    check_year,
    is_fixed,
    json_number,
    json_rate,
    month_expr,
    needed_in_a_row,
    per_year,
    percentile,
    period_days,
    rate,
    report_at_param,
    round_fraction,
    target_fields,
    target_in_effect,
    target_met,
)

# --- Reference rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refs:
    """The reference rows a report names: agencies by id, categories and zones in order."""

    agencies: dict[int, Agency]
    categories: list[DefectCategory]
    zones: list[Zone]


def load_refs() -> Refs:
    """The reference rows of one report, read once (the categories in the one order)."""
    agencies = {a.id: a for a in db.session.scalars(select(Agency))}
    zones = sorted(db.session.scalars(select(Zone)), key=lambda z: (z.sort_order, z.code))
    return Refs(agencies, categories(), zones)


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
        "rate": json_rate(rate(on_time, on_time + late)),
    }


def dispatch_tally_query(year: int, at: datetime):
    """SQL: dispatches of the year counted by agency, Taipei month, outcome and SLA length."""
    return _dispatch_tally_query(year).params({REPORT_AT: at})


@per_year
def _dispatch_tally_query(year: int):
    at = report_at_param()
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


@per_year
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

    return {
        "count": count,
        "median": clock.minutes(percentile(histogram, Fraction(1, 2))),
        "p90": clock.minutes(percentile(histogram, Fraction(9, 10))),
    }


def _dispatch_figures(year: int, at: datetime, refs: Refs) -> dict[str, Any]:
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
    in_effect = target_in_effect(year)
    target = in_effect.value if in_effect else None
    value = rate(counts["on_time"], counts["counted"])
    agencies = sorted(
        (refs.agencies[a] for a in by_agency),
        key=lambda a: (not a.has_desk, a.sort_order, a.code),
    )
    # The time limit the narrative names: the one the year's dispatches ran under (the setting
    # in force when there are none); None when it changed during the year.
    lengths = set(sla_lengths) or {sla_seconds()}
    sla_minutes = json_number(clock.minutes(lengths.pop())) if len(lengths) == 1 else None
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
        **target_fields(in_effect),
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


@per_year
def defect_tally_query(year: int):
    """SQL: defects found in the year counted by category, zone and fixed-or-not."""
    rows = (
        select(
            Defect.category_id.label("category_id"),
            Defect.zone_id.label("zone_id"),
            case((is_fixed(), 1), else_=0).label("fixed"),
        )
        .where(clock.in_year(Defect.found_at, year))
        .subquery()
    )
    keys = (rows.c.category_id, rows.c.zone_id, rows.c.fixed)
    return select(*keys, func.count().label("n")).group_by(*keys[::-1])


@per_year
def defect_dates_query(year: int):
    """SQL: defects of the year counted by category, Taipei found date, fixed date and due date."""
    rows = (
        select(
            Defect.category_id.label("category_id"),
            taipei_date(Defect.found_at).label("found_on"),
            case((is_fixed(), taipei_date(Defect.fixed_at)), else_=None).label("fixed_on"),
            Defect.due_on.label("due_on"),
        )
        .where(clock.in_year(Defect.found_at, year))
        .subquery()
    )
    keys = (rows.c.category_id, rows.c.found_on, rows.c.fixed_on, rows.c.due_on)
    return select(*keys, func.count().label("n")).group_by(*keys[1:], keys[0])


@per_year
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


def _due_figures(within: int, past: int, not_yet: int) -> dict[str, Any]:
    return {
        "within_due": within,
        "past_due": past,
        "not_yet_due": not_yet,
        "share_within_due": json_rate(rate(within, within + past)),
    }


def _defect_tallies(year: int) -> tuple[dict[int, Counter], dict[int, Counter]]:
    """Fixed and open defects of the year, by category id and by zone id."""
    by_category: dict[int, Counter] = defaultdict(Counter)
    by_zone: dict[int, Counter] = defaultdict(Counter)
    for category_id, zone_id, fixed, n in db.session.execute(defect_tally_query(year)):
        key = "fixed" if fixed else "open"
        by_category[category_id][key] += n
        by_zone[zone_id][key] += n
    return by_category, by_zone


def _defect_dues(
    year: int, at: datetime, refs: Refs
) -> tuple[dict[int, Counter], dict[int, Counter]]:
    """By category id: the working days each fixed defect took, and the due statuses."""
    today = clock.local(at).date()
    dues = DueDates()
    days_by_category: dict[int, Counter] = defaultdict(Counter)
    due_by_category: dict[int, Counter] = defaultdict(Counter)
    category_days = {c.id: c.due_working_days for c in refs.categories}
    for category_id, found_on, fixed_on, due_on, n in db.session.execute(defect_dates_query(year)):
        found_on, fixed_on, due_on = as_date(found_on), as_date(fixed_on), as_date(due_on)
        status = dues.due_status(found_on, fixed_on, due_on, category_days[category_id], today)
        due_by_category[category_id][status] += n
        if fixed_on is not None:
            days_by_category[category_id][dues.days_to_fix(found_on, fixed_on)] += n
    return days_by_category, due_by_category


def _median_days(histogram: Counter) -> float | None:
    return round_fraction(percentile(histogram.items(), Fraction(1, 2)), TENTHS)


def _tally_figures(tally: Counter) -> dict[str, int]:
    return {"found": tally["fixed"] + tally["open"], "fixed": tally["fixed"], "open": tally["open"]}


def _inspection_rounds(year: int, at: datetime, refs: Refs) -> list[dict[str, Any]]:
    """Rounds done and planned so far, for each zone with an active plan or a round done."""
    plans = {p.zone_id: p for p in db.session.scalars(select(InspectionPlan))}
    done = dict(db.session.execute(rounds_query(year)).all())
    days_so_far = period_days(year, at)
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
                "planned": days_so_far // plan.frequency_days if active_plan else None,
                "frequency_days": plan.frequency_days if active_plan else None,
            }
        )
    return rounds


def _defect_figures(year: int, at: datetime, refs: Refs) -> dict[str, Any]:
    by_category, by_zone = _defect_tallies(year)
    days_by_category, due_by_category = _defect_dues(year, at, refs)
    categories = []
    all_days: Counter = Counter()
    all_due: Counter = Counter()
    for category in refs.categories:
        due = due_by_category[category.id]
        all_days.update(days_by_category[category.id])
        all_due.update(due)
        categories.append(
            {
                "category": category.code,
                **_names(category),
                "due_working_days": category.due_working_days,
                **_tally_figures(by_category[category.id]),
                "median_working_days_to_fix": _median_days(days_by_category[category.id]),
                **_due_figures(due["within_due"], due["past_due"], due["not_yet_due"]),
            }
        )
    zones = [z for z in refs.zones if z.active or z.id in by_zone]
    fixed = sum(c["fixed"] for c in categories)
    found = sum(c["found"] for c in categories)
    return {
        "found": found,
        "fixed": fixed,
        "open": found - fixed,
        "median_working_days_to_fix": _median_days(all_days),
        **_due_figures(all_due["within_due"], all_due["past_due"], all_due["not_yet_due"]),
        "by_category": categories,
        "by_zone": [{"zone": z.code, **_names(z), **_tally_figures(by_zone[z.id])} for z in zones],
        "inspection_rounds": _inspection_rounds(year, at, refs),
    }


# --- The report -------------------------------------------------------------------------------


def figures(year: int, at: datetime | None = None, refs: Refs | None = None) -> dict[str, Any]:
    """The live roll-up of one Taipei calendar year, as JSON-ready data."""
    at = at or clock.now()
    year = check_year(year, at)
    refs = refs or load_refs()
    dispatch = _dispatch_figures(year, at, refs)
    dispatch["wait_minutes"] = wait_figures(year, refs)
    add_late_reasons(dispatch, year, at, {a.id: a.code for a in refs.agencies.values()})
    defects = _defect_figures(year, at, refs)
    satisfaction = satisfaction_figures(year, refs)
    return {
        "year": year,
        "roc_year": clock.roc_year(year),
        "as_of": at.isoformat(),
        "complete": at >= clock.year_bounds(year)[1],
        "dispatch": dispatch,
        "defects": defects,
        "satisfaction": satisfaction,
        "narrative": narrative(year, dispatch, defects, satisfaction),
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


# --- The visitor: the whole wait and the verdict (issue 13) -----------------------------------


def _agency_order(refs: Refs, ids) -> list[Agency]:
    """The agencies of `ids` in the report's order (desk agencies first, then sort order)."""
    return sorted(
        (refs.agencies[a] for a in ids), key=lambda a: (not a.has_desk, a.sort_order, a.code)
    )


@per_year
def visitor_wait_query(year: int):
    """SQL: the visits logged in the year that a responder served, counted by the serving
    dispatch's agency and the whole seconds from the visit's logging to that arrival
    (`Dispatch.serves_visit_clause`: the latest arrival of the visit's dispatches)."""
    rows = (
        select(
            Dispatch.agency_id.label("agency_id"),
            seconds_between(Visit.created_at, Dispatch.arrived_at).label("seconds"),
        )
        .join(Visit, Visit.id == Dispatch.visit_id)
        .where(clock.in_year(Visit.created_at, year), Dispatch.serves_visit_clause())
        .subquery()
    )
    keys = (rows.c.agency_id, rows.c.seconds)
    return select(*keys, func.count().label("n")).group_by(*keys)


def wait_figures(year: int, refs: Refs) -> dict[str, Any]:
    """`dispatch.wait_minutes`: the visitors' whole wait (count, median, p90 in minutes, one
    decimal, half up; PERCENTILE.INC), for the year and per serving agency."""
    by_agency: dict[int, list[tuple[int, int]]] = defaultdict(list)
    everyone: Counter = Counter()
    for agency_id, seconds, n in db.session.execute(visitor_wait_query(year)):
        by_agency[agency_id].append((seconds, n))
        everyone[seconds] += n
    return {
        **_minutes(list(everyone.items())),
        "by_agency": [
            {"agency": a.code, **_names(a), **_minutes(by_agency[a.id])}
            for a in _agency_order(refs, by_agency)
        ],
    }


@per_year
def satisfaction_query(year: int):
    """SQL: the visitors' answers for the visits logged in the year, counted by the agency of
    the dispatch that served them and by answer."""
    return (
        select(Dispatch.agency_id, VisitRating.score, func.count().label("n"))
        .join(Visit, Visit.id == VisitRating.visit_id)
        .join(Dispatch, Dispatch.id == VisitRating.dispatch_id)
        .where(clock.in_year(Visit.created_at, year))
        .group_by(Dispatch.agency_id, VisitRating.score)
    )


def _answers(counter: Counter) -> dict[str, Any]:
    responses = sum(counter[s.value] for s in RatingScore)
    satisfied = counter[RatingScore.SATISFIED.value]
    return {
        "responses": responses,
        "satisfied": satisfied,
        "neutral": counter[RatingScore.NEUTRAL.value],
        "dissatisfied": counter[RatingScore.DISSATISFIED.value],
        "share_satisfied": json_rate(satisfaction_share(satisfied, responses)),
    }


def satisfaction_figures(year: int, refs: Refs) -> dict[str, Any]:
    """`satisfaction`: the visitors' answers (質化指標) of the year and the share satisfied
    (half up, 2 decimals, Decimal; null without answers), for the year and per agency."""
    by_agency: dict[int, Counter] = defaultdict(Counter)
    everyone: Counter = Counter()
    for agency_id, score, n in db.session.execute(satisfaction_query(year)):
        by_agency[agency_id][score] += n
        everyone[score] += n
    return {
        **_answers(everyone),
        "by_agency": [
            {"agency": a.code, **_names(a), **_answers(by_agency[a.id])}
            for a in _agency_order(refs, by_agency)
        ],
    }
