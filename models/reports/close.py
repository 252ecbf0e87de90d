"""A closed year: its figures frozen in a `ReportSnapshot` by `close_year`, and the restatement
(the frozen figures that differ from the live ones after later changes to its records)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput
from models.reports.figures import figures
from models.reports.rules import check_year


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


def has_records(report: dict[str, Any]) -> bool:
    """True when a year's figures rest on any record: a dispatch, a defect or a round."""
    dispatch, defects = report["dispatch"], report["defects"]
    rounds = sum(r["done"] for r in defects.get("inspection_rounds", []))
    return bool(dispatch["total"] or defects["found"] or rounds)


def close_year(year: int, *, by) -> ReportSnapshot:
    """Close a finished year that has records: freeze its figures now (audited). A year is
    closed only once."""
    at = clock.now()
    year = check_year(year, at)
    if year >= clock.taipei_year(at):
        raise InvalidInput(_("Only a year that has ended can be closed"))
    if snapshot(year) is not None:
        raise Conflict(_("%(year)s is closed already", year=year))
    frozen = figures(year, at)
    if not has_records(frozen):
        raise InvalidInput(_("%(year)s has no records: there is nothing to close.", year=year))
    row = ReportSnapshot(
        year=year,
        figures=frozen,
        closed_by_id=by.id if by is not None else None,
        closed_by_name=(by.name or by.username) if by is not None else "",
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
# Notes on the records, not figures: the late reasons may be given after a year was closed.
_NOT_RESTATED = {"late_reasons"}
# The key that names each row of a table (restatement paths read dispatch.by_month.3.late).
_ROW_KEYS = ("agency", "month", "category", "zone", "code")


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


def _in_frozen_shape(frozen: dict, path: str) -> bool:
    """False when a figure belongs to a section the frozen figures do not have at all (added to
    the report after the year was closed, e.g. `satisfaction`); a new row of a table is in."""
    node: Any = frozen
    for part in path.split("."):
        if not isinstance(node, dict):
            return True  # inside a table: a row that was not there is a restatement
        if part not in node:
            return False
        node = node[part]
    return True


def restatement(frozen: dict, current: dict) -> list[dict[str, Any]]:
    """The figures of a closed year that differ now from the frozen ones (sections added to the
    report after the year was closed, and notes such as late reasons, are not restatements)."""
    now = {
        path: value
        for path, value in flatten(current)
        if _in_frozen_shape(frozen, path) and _NOT_RESTATED.isdisjoint(path.split("."))
    }
    changes = []
    for path, value in flatten(frozen):
        if path.endswith(("_zh", "_en")) or path in ("year", "roc_year"):
            continue
        if not _NOT_RESTATED.isdisjoint(path.split(".")):
            continue
        if now.get(path) != value:
            changes.append({"figure": path, "frozen": value, "current": now.get(path)})
    frozen_paths = dict(flatten(frozen))
    for path, value in now.items():
        if path not in frozen_paths and value not in (0, None):
            changes.append({"figure": path, "frozen": None, "current": value})
    return changes
