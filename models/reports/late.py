"""The year's late dispatches by reason (`dispatch.late_reasons` of the yearly figures, per
agency too): counted by the database with the outcome rule itself (`Dispatch.outcome_expr`),
so the counts add up to the year's `late` figure.

Each entry is `{"code", "label", "label_en", "count"}`: every reason in use, any reason no
longer in use that still has late dispatches, then `none` ("no reason recorded") for the late
dispatches nobody explained yet. Reasons are notes on the records, not published figures: they
are never a restatement of a closed year, and a closed year's report shows them as they are now.
"""

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select

from models.core import clock, db
from models.dispatch import Dispatch, Outcome
from models.dispatch.late import NO_REASON, DispatchLateReason, LateReason, late_reasons
from models.reports.rules import REPORT_AT, per_year, report_at_param

# The label of the entry for late dispatches without a reason (the reports write it as is).
NO_REASON_LABELS = ("未填原因", "No reason recorded")


def late_reason_tally_query(year: int, at: datetime):
    """SQL: the year's late dispatches counted by agency and reason code (`none`: no reason)."""
    return _late_reason_tally_query(year).params({REPORT_AT: at})


@per_year
def _late_reason_tally_query(year: int):
    at = report_at_param()
    rows = (
        select(
            Dispatch.agency_id.label("agency_id"),
            func.coalesce(LateReason.code, literal(NO_REASON)).label("code"),
        )
        .outerjoin(DispatchLateReason, DispatchLateReason.dispatch_id == Dispatch.id)
        .outerjoin(LateReason, LateReason.id == DispatchLateReason.reason_id)
        .where(
            clock.in_year(Dispatch.notified_at, year),
            Dispatch.outcome_expr(at) == Outcome.LATE.value,
        )
        .subquery()
    )
    return select(rows.c.agency_id, rows.c.code, func.count().label("n")).group_by(
        rows.c.agency_id, rows.c.code
    )


def reason_rows(counts: Counter, reasons: list[LateReason] | None = None) -> list[dict[str, Any]]:
    """The late_reasons list of one tally {code: count}: the reasons in the one order (an
    inactive one only when it has dispatches), then `none`."""
    reasons = late_reasons() if reasons is None else reasons
    rows = [
        {"code": r.code, "label": r.label_zh, "label_en": r.label_en, "count": counts[r.code]}
        for r in reasons
        if r.active or counts[r.code]
    ]
    zh, en = NO_REASON_LABELS
    rows.append({"code": NO_REASON, "label": zh, "label_en": en, "count": counts[NO_REASON]})
    return rows


def late_reason_counts(
    year: int, at: datetime, agency_id: int | None = None
) -> tuple[Counter, dict[int, Counter]]:
    """({code: count} over all agencies, {agency id: {code: count}}) for the year's late
    dispatches (one agency's only when `agency_id` is given)."""
    stmt = late_reason_tally_query(year, at)
    if agency_id is not None:
        tally = stmt.subquery()
        stmt = select(tally).where(tally.c.agency_id == agency_id)
    totals: Counter = Counter()
    by_agency: dict[int, Counter] = defaultdict(Counter)
    for row_agency, code, n in db.session.execute(stmt):
        totals[code] += n
        by_agency[row_agency][code] += n
    return totals, by_agency


def add_late_reasons(dispatch: dict[str, Any], year: int, at: datetime, codes: dict[int, str]):
    """Add `late_reasons` to the year's dispatch figures and to each of its agency rows
    (`codes`: agency id → code)."""
    totals, by_agency = late_reason_counts(year, at)
    reasons = late_reasons()
    dispatch["late_reasons"] = reason_rows(totals, reasons)
    per_code = {codes[agency_id]: counts for agency_id, counts in by_agency.items()}
    for row in dispatch["by_agency"]:
        row["late_reasons"] = reason_rows(per_code.get(row["agency"], Counter()), reasons)
    return dispatch


def with_current_late_reasons(frozen: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """A closed year's frozen figures with the late reasons as recorded now (reasons may be
    given after the year was closed; they are notes, not figures)."""
    dispatch = dict(frozen["dispatch"])
    dispatch["late_reasons"] = live["dispatch"]["late_reasons"]
    live_rows = {row["agency"]: row.get("late_reasons") for row in live["dispatch"]["by_agency"]}
    dispatch["by_agency"] = [
        {**row, "late_reasons": live_rows.get(row["agency"]) or reason_rows(Counter())}
        for row in dispatch["by_agency"]
    ]
    return {**frozen, "dispatch": dispatch}
