"""An agency's scorecard: its standing against the year's target, month by month, with its late
dispatches and their reasons (page /agency/scorecard, GET /api/v1/agencies/{code}/scorecard,
and the monthly digest).

Nothing is counted twice: the counts come from the yearly figures' own tally
(`figures.dispatch_tally_query`, outcome by `Dispatch.outcome_expr`) filtered to the agency,
the rate, target met and on-time arrivals needed in a row from `rules`, the late reasons from
`late.late_reason_counts`, the late dispatches from `evidence.dispatch_evidence`.
"""

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from models.core import clock, db
from models.dispatch.late import late_reasons_of
from models.reference import Agency
from models.reports.evidence import dispatch_evidence
from models.reports.figures import _counts as outcome_figures
from models.reports.figures import dispatch_tally_query
from models.reports.late import late_reason_counts, reason_rows
from models.reports.rules import (
    TargetInEffect,
    check_year,
    month_bounds,
    needed_in_a_row,
    rate,
    target_fields,
    target_in_effect,
    target_met,
)


def monthly_tally(
    year: int, at: datetime, *, agency_id: int | None = None, through_month: int = 12
) -> dict[int, dict[int, Counter]]:
    """{agency id: {month: outcome tally}} of the year's dispatches notified up to the end of
    `through_month` (one agency's only when `agency_id` is given): the yearly figures' tally."""
    tally = dispatch_tally_query(year, at).subquery()
    stmt = select(tally.c.agency_id, tally.c.month, tally.c.outcome, tally.c.n).where(
        tally.c.month <= through_month
    )
    if agency_id is not None:
        stmt = stmt.where(tally.c.agency_id == agency_id)
    found: dict[int, dict[int, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for row_agency, month, outcome, n in db.session.execute(stmt):
        found[row_agency][int(month)][outcome] += n
    return found


def standing(totals: Counter, in_effect: TargetInEffect | None, *, in_progress: bool) -> dict:
    """Counted, on time, late, rate, the target in effect, target met, and (while the year is
    in progress) the on-time arrivals in a row needed to reach the target, from a tally."""
    counts = outcome_figures(totals)
    target = in_effect.value if in_effect else None
    value = rate(counts["on_time"], counts["counted"])
    needed = needed_in_a_row(counts["on_time"], counts["counted"], target) if in_progress else None
    return {
        **counts,
        **target_fields(in_effect),
        "target_met": target_met(value, target),
        "needed_in_a_row": needed,
    }


def _months(by_month: dict[int, Counter]) -> list[dict[str, Any]]:
    """Each month's counts and rate, with the rate of the year up to the end of that month."""
    rows, so_far = [], Counter()
    for month in range(1, 13):
        tally = by_month.get(month, Counter())
        so_far.update(tally)
        counts = outcome_figures(tally)
        ytd = outcome_figures(so_far)
        rows.append({"month": month, **counts, "year_to_date_rate": ytd["rate"]})
    return rows


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def late_dispatches(
    year: int, at: datetime, agency: Agency | None = None, *, month: int | None = None
) -> list[dict[str, Any]]:
    """The late dispatches of a year (of one agency, of one month), newest first, each with
    its reason (None when nobody said why yet)."""
    stmt = dispatch_evidence(
        year, at, outcome="late", agency=agency.code if agency else None, month=month
    )
    rows = db.session.execute(stmt).all()
    reasons = late_reasons_of([d.id for d, _seconds in rows])
    found = []
    for dispatch, seconds in reversed(rows):
        given = reasons.get(dispatch.id)
        found.append(
            {
                "id": dispatch.id,
                "reference": dispatch.reference,
                "agency": dispatch.agency.code,
                "agency_name": dispatch.agency.name_zh,
                "agency_name_en": dispatch.agency.name_en,
                "state": dispatch.state,
                "notified_at": _iso(dispatch.notified_at),
                "deadline_at": _iso(dispatch.deadline_at),
                "arrived_at": _iso(dispatch.arrived_at),
                "minutes_to_arrival": clock.minutes(seconds),
                "reason": None
                if given is None
                else {
                    "code": given.reason.code,
                    "label": given.reason.label_zh,
                    "label_en": given.reason.label_en,
                    "note": given.note,
                    "recorded_at": _iso(given.recorded_at),
                },
            }
        )
    return found


def scorecard(agency: Agency, year: int, at: datetime | None = None) -> dict[str, Any]:
    """One agency's standing in a Taipei year: counted, on time, late, rate against the year's
    target, what it needs in a row, month by month, its late dispatches and their reasons."""
    at = at or clock.now()
    year = check_year(year, at)
    by_month = monthly_tally(year, at, agency_id=agency.id).get(agency.id, {})
    totals: Counter = Counter()
    for tally in by_month.values():
        totals.update(tally)
    in_progress = year == clock.taipei_year(at)
    reasons, _by_agency = late_reason_counts(year, at, agency.id)
    return {
        "agency": agency.code,
        "name_zh": agency.name_zh,
        "name_en": agency.name_en,
        "year": year,
        "roc_year": clock.roc_year(year),
        "as_of": at.isoformat(),
        "complete": not in_progress,
        **standing(totals, target_in_effect(year), in_progress=in_progress),
        "by_month": _months(by_month),
        "late_reasons": reason_rows(reasons),
        "late_dispatches": late_dispatches(year, at, agency),
    }


def month_standing(
    year: int, month: int, at: datetime
) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The centre's and each agency's figures for one month and for the year up to its end:
    ({"month": ..., "year": ...}, {agency id: {"month": ..., "year": ...}}), for the digest."""
    month_bounds(year, month)  # checks the month
    tally = monthly_tally(year, at, through_month=month)
    target = target_in_effect(year)
    in_progress = year == clock.taipei_year(at)
    centre_month, centre_year = Counter(), Counter()
    agencies = {}
    for agency_id, by_month in tally.items():
        this_month = by_month.get(month, Counter())
        this_year: Counter = Counter()
        for counts in by_month.values():
            this_year.update(counts)
        centre_month.update(this_month)
        centre_year.update(this_year)
        agencies[agency_id] = {
            "month": outcome_figures(this_month),
            "year": standing(this_year, target, in_progress=in_progress),
        }
    centre = {
        "month": outcome_figures(centre_month),
        "year": standing(centre_year, target, in_progress=in_progress),
    }
    return centre, agencies
