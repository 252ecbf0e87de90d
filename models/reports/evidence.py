"""The records behind each figure: the evidence lists of the page and the raw rows of the XLSX
sheets, selected by the same rules as the counts (outcome, Taipei month, due status)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, select

from models.core import clock, db
from models.core.errors import InvalidInput
from models.core.sqlfuncs import seconds_between, taipei_date
from models.dispatch import Dispatch
from models.dispatch.late import NO_REASON, DispatchLateReason, LateReason
from models.facility import Defect, InspectionRound
from models.reference import Agency, DefectCategory, Floor, Zone
from models.reports.rules import (
    DEFECT_STATUSES,
    OUTCOME_FILTERS,
    DueDates,
    as_date,
    check_year,
    is_fixed,
    month_bounds,
    month_expr,
)

# --- Evidence: the records behind each figure ------------------------------------------------


def dispatch_evidence(
    year: int,
    at: datetime | None = None,
    *,
    outcome: str | None = None,
    agency: str | None = None,
    month: int | None = None,
    timed: str | None = None,
    reason: str | None = None,
):
    """A select() of (Dispatch, seconds to arrival) behind a figure (the counts' own rules).

    `outcome` is an Outcome value, `counted` or `excluded`; `agency` an agency code; `month` a
    Taipei month; `timed` = `arrival` or `acknowledgement` keeps those with that time, slowest
    first (the rows behind the median and 90th-percentile minutes); `reason` a late reason's
    code, or `none` for those with no reason recorded (the rows behind `late_reasons`).
    """
    at = at or clock.now()
    year = check_year(year, at)
    seconds = seconds_between(Dispatch.notified_at, Dispatch.arrived_at).label("seconds")
    stmt = select(Dispatch, seconds).where(clock.in_year(Dispatch.notified_at, year))
    if outcome:
        if outcome not in OUTCOME_FILTERS:
            raise InvalidInput(_l("Unknown outcome: %(value)s", value=outcome))
        stmt = stmt.where(Dispatch.outcome_expr(at).in_(OUTCOME_FILTERS[outcome]))
    if agency:
        stmt = stmt.join(Dispatch.agency).where(Agency.code == agency)
    if month:
        start, end = month_bounds(year, int(month))
        stmt = stmt.where(Dispatch.notified_at >= start, Dispatch.notified_at < end)
    if reason:
        stmt = stmt.outerjoin(
            DispatchLateReason, DispatchLateReason.dispatch_id == Dispatch.id
        ).outerjoin(LateReason, LateReason.id == DispatchLateReason.reason_id)
        if reason == NO_REASON:
            stmt = stmt.where(DispatchLateReason.dispatch_id.is_(None))
        else:
            stmt = stmt.where(LateReason.code == reason)
    if timed:
        column = {"arrival": Dispatch.arrived_at, "acknowledgement": Dispatch.acknowledged_at}
        if timed not in column:
            raise InvalidInput(_l("Unknown time: %(value)s", value=timed))
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
        raise InvalidInput(_l("Unknown defect status: %(value)s", value=status))
    stmt = (
        select(
            Defect.id,
            taipei_date(Defect.found_at),
            case((is_fixed(), taipei_date(Defect.fixed_at)), else_=None),
            Defect.due_on,
            DefectCategory.due_working_days,
            is_fixed(),
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
        stmt = stmt.where(is_fixed())
    elif status == "open":
        stmt = stmt.where(~is_fixed())
    rows = db.session.execute(stmt).all()
    if status in ("found", "fixed", "open"):
        return [r[0] for r in rows]
    today, dues = clock.local(at).date(), DueDates()
    return [
        r[0]
        for r in rows
        if dues.due_status(as_date(r[1]), as_date(r[2]), as_date(r[3]), r[4], today) == status
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


# The columns of the record rows, in order (the exports' raw sheets are laid out by them).
DISPATCH_ROW_KEYS = (
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
    "late_reason",
    "late_reason_note",
    "seconds_to_arrival",
)
DEFECT_ROW_KEYS = (
    "id",
    "reference",
    "category",
    "category_name",
    "zone",
    "zone_name",
    "floor",
    "source",
    "state",
    "found_at",
    "fixed",
    "fixed_at",
    "due_on",
    "working_days_to_fix",
    "due_status",
    "description",
)


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
            LateReason.code,
            DispatchLateReason.note,
            seconds_between(Dispatch.notified_at, Dispatch.arrived_at),
        )
        .join(Agency, Dispatch.agency_id == Agency.id)
        .outerjoin(DispatchLateReason, DispatchLateReason.dispatch_id == Dispatch.id)
        .outerjoin(LateReason, LateReason.id == DispatchLateReason.reason_id)
        .where(clock.in_year(Dispatch.notified_at, year))
        .order_by(Dispatch.notified_at, Dispatch.id)
        .execution_options(yield_per=2000)
    )
    for row in db.session.execute(stmt):
        yield dict(zip(DISPATCH_ROW_KEYS, row, strict=True))


def defect_rows(year: int, at: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every defect of the year with fixed-or-open, working days to fix and due status."""
    at = at or clock.now()
    today, dues = clock.local(at).date(), DueDates()
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
            case((is_fixed(), taipei_date(Defect.fixed_at)), else_=None),
            is_fixed(),
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
        found_on, fixed_on, due_on = as_date(row[13]), as_date(row[14]), as_date(row[12])
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
            "due_on": dues.due_date(found_on, row[4], due_on),
            "working_days_to_fix": dues.days_to_fix(found_on, fixed_on) if fixed_on else None,
            "due_status": dues.due_status(found_on, fixed_on, due_on, row[4], today),
            "description": row[16],
        }
