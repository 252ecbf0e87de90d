"""One row of an import file read and checked: each value parsed, each problem recorded with its
line and column (see `importer` for the file format and the all-or-nothing import)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from models.core import clock, db
from models.core.errors import NotFound
from models.core.text import is_storable
from models.dispatch import DispatchState, deadline_after
from models.facility import DefectSource, TicketState, due_date
from models.reference import DefectCategory, Floor, Zone, agency_by_code, sla_seconds

OUTCOMES = {
    "arrived": DispatchState.ARRIVED,
    "cancelled": DispatchState.CANCELLED,
    "transferred": DispatchState.TRANSFERRED,
    "open": DispatchState.NOTIFIED,
}
SOURCES = {
    "inspection": DefectSource.INSPECTION,
    "巡檢": DefectSource.INSPECTION,
    "report": DefectSource.REPORT,
    "報修": DefectSource.REPORT,
}

MAX_SLA_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Problem:
    """One problem in an import file: where (line, column) and what."""

    line: int
    column: str
    message: Any  # a lazy string: shown in the reader's language

    def __str__(self) -> str:
        if self.column:
            return str(
                _l(
                    "line %(line)s, column %(column)s: %(message)s",
                    line=self.line,
                    column=self.column,
                    message=self.message,
                )
            )
        return str(_l("line %(line)s: %(message)s", line=self.line, message=self.message))


def _parse_time(value: str) -> datetime | None:
    try:
        return clock.parse_local(value)
    except (ValueError, OverflowError):
        return None


class Row:
    """One data row being validated: values by column name, problems collected."""

    def __init__(self, line: int, values: dict[str, str], problems: list[Problem]):
        self.line, self.values, self.problems = line, values, problems

    def problem(self, column: str, message) -> None:
        """Record a problem of this row's `column`."""
        self.problems.append(Problem(self.line, column, message))

    def text(self, column: str, *, required: bool = False, max_length: int = 200) -> str:
        """The trimmed text of `column`; a problem when it is missing, cannot be stored or is
        too long (then "" for text that cannot be stored, so nothing else reads it)."""
        value = self.values.get(column, "").strip()
        if required and not value:
            self.problem(column, _l("a value is required"))
        elif not is_storable(value):
            # The one text rule (models.core.text): refused, never stripped.
            self.problem(
                column, _l("%(field)s contains characters that are not allowed.", field=column)
            )
            return ""
        elif len(value) > max_length:
            self.problem(column, _l("at most %(n)s characters", n=max_length))
        return value

    def time(
        self, column: str, now: datetime, *, required: bool = False, after=None
    ) -> datetime | None:
        """The time in `column` (Taipei when without offset), not in the future and not
        earlier than `after` = (column, time); None with a problem otherwise."""
        value = self.text(column, required=required)
        if not value:
            return None
        parsed = _parse_time(value)
        if parsed is None:
            self.problem(
                column,
                _l(
                    "“%(value)s” is not an ISO 8601 time such as 2023-03-05 14:03",
                    value=value,
                ),
            )
            return None
        if parsed > now:
            self.problem(column, _l("%(value)s is in the future", value=value))
            return None
        if after is not None and parsed < after[1]:
            self.problem(column, _l("earlier than %(other)s", other=after[0]))
            return None
        return parsed


class Lookup:
    """Reference rows by code or name, each looked up once per file."""

    def __init__(self, finder: Callable[[str], Any]):
        self.finder, self.cache = finder, {}

    def __call__(self, text: str):
        if text not in self.cache:
            self.cache[text] = self.finder(text)
        return self.cache[text]


def _agency(text: str) -> int | None:
    try:
        return agency_by_code(text, active_only=False).id  # past records: retired agencies too
    except NotFound:
        return None


def _by_code_or_name(model) -> Callable[[str], Any]:
    def find(text: str):
        return db.session.scalars(
            select(model).where(
                (model.code == text) | (model.name_zh == text) | (model.name_en == text)
            )
        ).first()

    return find


def _floor(text: str) -> int | None:
    return db.session.scalar(select(Floor.id).where(func.upper(Floor.code) == text.upper()))


# --- Validation -------------------------------------------------------------------------------


def dispatch_row(row: Row, now: datetime, agencies: Lookup, default_sla: int):
    """A dispatch row's values as columns (its deadline by the dispatch rule), or None."""
    reference = row.text("reference", required=True, max_length=64)
    agency_text = row.text("agency", required=True, max_length=200)
    agency_id = agencies(agency_text) if agency_text else None
    if agency_text and agency_id is None:
        row.problem("agency", _l("unknown agency “%(value)s”", value=agency_text))
    notified = row.time("notified_at", now, required=True)
    outcome = row.text("outcome", required=True).lower()
    if outcome and outcome not in OUTCOMES:
        row.problem(
            "outcome",
            _l(
                "“%(value)s” is not one of %(choices)s",
                value=outcome,
                choices=", ".join(OUTCOMES),
            ),
        )
    after = ("notified_at", notified) if notified else None
    arrived = row.time("arrived_at", now, required=outcome == "arrived", after=after)
    closed = row.time(
        "closed_at", now, required=outcome in ("cancelled", "transferred"), after=after
    )
    if arrived is not None and outcome in OUTCOMES and outcome != "arrived":
        row.problem("arrived_at", _l("only an arrived dispatch has an arrival time"))
    if closed is not None and outcome in ("arrived", "open"):
        row.problem("closed_at", _l("only a cancelled or transferred dispatch has a closing time"))
    sla_text = row.text("sla_seconds")
    sla = default_sla
    if sla_text:
        try:
            sla = int(sla_text)
            if not 1 <= sla <= MAX_SLA_SECONDS:
                raise ValueError
        except ValueError:
            row.problem(
                "sla_seconds",
                _l("a whole number of seconds from 1 to %(max)s", max=MAX_SLA_SECONDS),
            )
    subject = row.text("subject", max_length=200)
    if not reference or agency_id is None or notified is None or outcome not in OUTCOMES:
        return None
    return {
        "reference": reference,
        "agency_id": agency_id,
        "subject": subject,
        "state": OUTCOMES[outcome].value,
        "notified_at": notified,
        "sla_seconds": sla,
        "deadline_at": deadline_after(notified, sla),
        "arrived_at": arrived,
        "ended_at": arrived if outcome == "arrived" else closed,
        # not a column: an empty sla_seconds accepts whatever SLA the existing row has
        "_sla_given": bool(sla_text),
    }


def defect_row(row: Row, now: datetime, lookups: dict[str, Lookup]):
    """A defect row's values as columns (its due date by the facility rule), or None."""
    reference = row.text("reference", required=True, max_length=64)
    category_text = row.text("category", required=True)
    category = lookups["category"](category_text) if category_text else None
    if category_text and category is None:
        row.problem("category", _l("unknown defect category “%(value)s”", value=category_text))
    zone_text = row.text("zone", required=True)
    zone = lookups["zone"](zone_text) if zone_text else None
    if zone_text and zone is None:
        row.problem("zone", _l("unknown zone “%(value)s”", value=zone_text))
    floor_text = row.text("floor", max_length=10)
    floor_id = lookups["floor"](floor_text) if floor_text else None
    if floor_text and floor_id is None:
        row.problem("floor", _l("unknown floor “%(value)s”", value=floor_text))
    found_at = row.time("found_at", now, required=True)
    after = ("found_at", found_at) if found_at else None
    fixed_at = row.time("fixed_at", now, after=after)
    source_text = row.text("source", required=True)
    source = SOURCES.get(source_text.lower())
    if source_text and source is None:
        row.problem(
            "source",
            _l("“%(value)s” is not inspection or report", value=source_text),
        )
    description = row.text("description", max_length=4000)
    if not reference or category is None or zone is None or found_at is None or source is None:
        return None
    return {
        "reference": reference,
        "category_id": category.id,
        "zone_id": zone.id,
        "floor_id": floor_id,
        "location": "",
        "description": description,
        "source": source.value,
        "state": (TicketState.FIXED if fixed_at else TicketState.REPORTED).value,
        "found_at": found_at,
        "fixed_at": fixed_at,
        "due_on": due_date(found_at, category),
    }


RowReader = Callable[["Row", datetime], dict[str, Any] | None]


def row_reader(kind: str) -> RowReader:
    """The checker of one row of `kind`, its reference look-ups cached for the whole file."""
    if kind == "dispatches":
        agencies, default_sla = Lookup(_agency), sla_seconds()
        return lambda row, now: dispatch_row(row, now, agencies, default_sla)
    lookups = {
        "category": Lookup(_by_code_or_name(DefectCategory)),
        "zone": Lookup(_by_code_or_name(Zone)),
        "floor": Lookup(_floor),
    }
    return lambda row, now: defect_row(row, now, lookups)
