"""The yearly report: the one function every report output comes from.

`yearly_report(year)` is the year's figures (frozen when the year is closed), the previous year
beside them, and the period state. The page, the CSV/XLSX/JSON downloads, `citydesk report
yearly` and `GET /api/v1/reports/yearly` all render its result; none of them counts anything.
"""

from datetime import datetime
from typing import Any

from models.core import clock
from models.reports.close import restatement, snapshot
from models.reports.figures import Refs, figures, load_refs
from models.reports.late import with_current_late_reasons
from models.reports.rules import FIRST_YEAR, check_year


def _official(year: int, at: datetime, refs: Refs) -> dict[str, Any]:
    """A year's figures as published: frozen when closed, live otherwise."""
    row = snapshot(year)
    return dict(row.figures) if row is not None else figures(year, at, refs)


def yearly_report(year: int, at: datetime | None = None) -> dict[str, Any]:
    """The yearly report: the year's figures, the previous year beside them, and its period
    state (closed by whom and when, and any restatement of frozen figures)."""
    at = at or clock.now()
    year = check_year(year, at)
    row = snapshot(year)
    refs = load_refs()
    live = figures(year, at, refs)
    report = with_current_late_reasons(row.figures, live) if row is not None else live
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
