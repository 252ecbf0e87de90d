"""Import of past records (dispatches and defects) from CSV, all or nothing.

`check(kind, data)` reads and validates the whole file first and lists every problem with its
line number and column; `apply(result)` then inserts the new rows in bulk (flush, no commit).
Rows identical to records imported before are skipped and counted, so importing the same file
twice changes nothing; the same reference with different data is a problem. The CLI
(`citydesk import`) and the admin upload page both call these two functions.

Format (UTF-8 with or without BOM, a header row, extra columns ignored):
- dispatches: reference, agency, notified_at, outcome, arrived_at, closed_at, sla_seconds,
  subject
- defects: reference, category, zone, floor, found_at, fixed_at, source, description
Times are ISO 8601; without an offset they are Asia/Taipei local time.
"""

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Index, func, insert, select
from sqlalchemy.exc import IntegrityError

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput, NotFound
from models.dispatch import Dispatch, DispatchState, deadline_after
from models.facility import Defect, DefectSource, TicketState
from models.reference import DefectCategory, Floor, Zone, agency_by_code, sla_seconds
from models.workdays import add_working_days

KINDS = ("dispatches", "defects")
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
COLUMNS = {
    "dispatches": (
        "reference",
        "agency",
        "notified_at",
        "outcome",
        "arrived_at",
        "closed_at",
        "sla_seconds",
        "subject",
    ),
    "defects": (
        "reference",
        "category",
        "zone",
        "floor",
        "found_at",
        "fixed_at",
        "source",
        "description",
    ),
}
REQUIRED = {
    "dispatches": ("reference", "agency", "notified_at", "outcome"),
    "defects": ("reference", "category", "zone", "floor", "found_at", "source"),
}
# Imported records are looked up by reference. Most rows have none (made in CityDesk), so after
# ANALYZE SQLite judges the unique index on reference useless for IN (...) and scans the table;
# a partial index of the rows that have one keeps the lookup an index search on both databases.
Index(
    "ix_dispatch_imported_reference",
    Dispatch.reference,
    sqlite_where=Dispatch.reference.is_not(None),
    postgresql_where=Dispatch.reference.is_not(None),
)
Index(
    "ix_defect_imported_reference",
    Defect.reference,
    sqlite_where=Defect.reference.is_not(None),
    postgresql_where=Defect.reference.is_not(None),
)
MAX_SLA_SECONDS = 24 * 3600
CHUNK = 2000
Progress = Callable[[int], None]


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


@dataclass
class ImportCheck:
    """The outcome of validating a whole file: problems, or the rows to add and to skip."""

    kind: str
    digest: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    identical: int = 0
    added: int = 0

    @property
    def ok(self) -> bool:
        """True when the file has no problem and can be imported."""
        return not self.problems


# --- Reading the file -------------------------------------------------------------------------


def _decode(data: bytes, result: ImportCheck) -> str | None:
    text = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = text[: exc.start].count(b"\n") + 1
        result.problems.append(
            Problem(line, "", _l("the file is not UTF-8 text (save it as CSV UTF-8)"))
        )
        return None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each CSV record, blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    for fields in reader:
        if any(f.strip() for f in fields):
            yield line, fields
        line = reader.line_num + 1


def _parse_time(value: str) -> datetime | None:
    try:
        return clock.parse_local(value)
    except (ValueError, OverflowError):
        return None


class _Row:
    """One data row being validated: values by column name, problems collected."""

    def __init__(self, line: int, values: dict[str, str], problems: list[Problem]):
        self.line, self.values, self.problems = line, values, problems

    def problem(self, column: str, message) -> None:
        self.problems.append(Problem(self.line, column, message))

    def text(self, column: str, *, required: bool = False, max_length: int = 200) -> str:
        value = self.values.get(column, "").strip()
        if required and not value:
            self.problem(column, _l("a value is required"))
        elif len(value) > max_length:
            self.problem(column, _l("at most %(n)s characters", n=max_length))
        return value

    def time(
        self, column: str, now: datetime, *, required: bool = False, after=None
    ) -> datetime | None:
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


class _Lookup:
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


def _dispatch_row(row: _Row, now: datetime, agencies: _Lookup, default_sla: int):
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


def _defect_row(row: _Row, now: datetime, lookups: dict[str, _Lookup]):
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
        "due_on": add_working_days(clock.local(found_at).date(), category.due_working_days),
    }


# Columns compared with an existing record of the same reference, and the CSV column each
# comes from (for the problem message).
_COMPARED = {
    "dispatches": {
        "agency_id": "agency",
        "notified_at": "notified_at",
        "state": "outcome",
        "arrived_at": "arrived_at",
        "ended_at": "closed_at",
        "sla_seconds": "sla_seconds",
        "subject": "subject",
    },
    "defects": {
        "category_id": "category",
        "zone_id": "zone",
        "floor_id": "floor",
        "source": "source",
        "found_at": "found_at",
        "fixed_at": "fixed_at",
        "state": "fixed_at",
        "description": "description",
    },
}


def _model(kind: str):
    return Dispatch if kind == "dispatches" else Defect


def _compare_existing(kind: str, rows: list[tuple[int, dict]], result: ImportCheck) -> None:
    """Split validated rows into new, identical to an existing record, or in conflict."""
    model = _model(kind)
    compared = _COMPARED[kind]
    columns = [model.reference] + [getattr(model, name) for name in compared]
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        existing = {
            r[0]: dict(zip(compared, r[1:], strict=True))
            for r in db.session.execute(
                select(*columns).where(model.reference.in_([v["reference"] for _l, v in chunk]))
            )
        }
        for line, values in chunk:
            old = existing.get(values["reference"])
            if old is None:
                result.new_rows.append(values)
                continue
            differing = [
                name
                for name in compared
                if old[name] != values[name]
                and not (name == "sla_seconds" and not values.get("_sla_given"))
            ]
            if not differing:
                result.identical += 1
                continue
            columns_text = ", ".join(dict.fromkeys(compared[name] for name in differing))
            result.problems.append(
                Problem(
                    line,
                    "reference",
                    _l(
                        "%(reference)s was imported before with different data (%(columns)s)",
                        reference=values["reference"],
                        columns=columns_text,
                    ),
                )
            )


def check(kind: str, data: bytes, progress: Progress | None = None) -> ImportCheck:
    """Read and validate a whole CSV file; nothing is written. See the module for the format."""
    if kind not in KINDS:
        raise InvalidInput(f"Unknown import kind: {kind} (dispatches or defects)")
    result = ImportCheck(kind=kind, digest=hashlib.sha256(data).hexdigest())
    text = _decode(data, result)
    if text is None:
        return result
    records = _records(text)
    header_line, header = next(records, (1, []))
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED[kind] if c not in names]
    for column in missing:
        result.problems.append(Problem(header_line, column, _l("required column is missing")))
    if not header:
        result.problems.append(Problem(1, "", _l("the file is empty: a header row is needed")))
    if result.problems:
        return result
    index = {name: i for i, name in reversed(list(enumerate(names))) if name in COLUMNS[kind]}
    now = clock.now()
    if kind == "dispatches":
        agencies, default_sla = _Lookup(_agency), sla_seconds()
    else:
        lookups = {
            "category": _Lookup(_by_code_or_name(DefectCategory)),
            "zone": _Lookup(_by_code_or_name(Zone)),
            "floor": _Lookup(_floor),
        }
    seen: dict[str, int] = {}
    valid: list[tuple[int, dict]] = []
    for line, fields in records:
        result.rows += 1
        values = {name: (fields[i] if i < len(fields) else "") for name, i in index.items()}
        row = _Row(line, values, result.problems)
        if kind == "dispatches":
            parsed = _dispatch_row(row, now, agencies, default_sla)
        else:
            parsed = _defect_row(row, now, lookups)
        reference = values.get("reference", "").strip()
        if reference:
            if reference in seen:
                row.problem(
                    "reference",
                    _l(
                        "%(reference)s appears twice (first on line %(line)s)",
                        reference=reference,
                        line=seen[reference],
                    ),
                )
                parsed = None
            else:
                seen[reference] = line
        if parsed is not None:
            valid.append((line, parsed))
        if progress and result.rows % 1000 == 0:
            progress(1000)
    if progress:
        progress(result.rows % 1000)
    if result.rows == 0:
        result.problems.append(Problem(header_line, "", _l("the file has no data rows")))
    _compare_existing(kind, valid, result)
    result.problems.sort(key=lambda p: p.line)
    return result


def apply(result: ImportCheck, *, source: str = "", progress: Progress | None = None) -> int:
    """Insert the new rows of a checked file in bulk and audit the import (flush, no commit)."""
    if not result.ok:
        raise InvalidInput(_("The file has problems; nothing was imported"))
    model = _model(result.kind)
    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in result.new_rows]
    try:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            db.session.execute(insert(model), chunk)
            if progress:
                progress(len(chunk))
        db.session.flush()
    except IntegrityError:
        raise Conflict(
            _("Some of these references were added by someone else meanwhile; check the file again")
        ) from None
    result.added = len(rows)
    audit.record(
        f"import.{result.kind}",
        "import",
        result.digest[:16],
        None,
        {
            "file": source,
            "sha256": result.digest,
            "rows": result.rows,
            "added": result.added,
            "skipped": result.identical,
        },
    )
    db.session.flush()
    return result.added
