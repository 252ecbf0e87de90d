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
Times are ISO 8601; without an offset they are Asia/Taipei local time. Each row is read by
`import_rows`: a dispatch's deadline by the dispatch rule (`deadline_after`), a defect's due date
by the facility rule (`due_date`), text by the one text rule (characters that cannot be stored
are a problem, never stripped, in every field and column name). A file the CSV reader cannot
read on (a quote never closed, text after a closing quote, a value over the csv module's size
limit) is one problem at the line and column where that field starts; reading stops there.
"""

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Index, insert, select
from sqlalchemy.exc import IntegrityError

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput
from models.core.text import is_storable
from models.dispatch import Dispatch
from models.facility import Defect
from models.reports.import_rows import Problem, Row, row_reader

KINDS = ("dispatches", "defects")
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
CHUNK = 2000
Progress = Callable[[int], None]


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


class _Unreadable(Exception):
    """The CSV reader cannot go on: where (line, field number) and what."""

    def __init__(self, line: int, field: int, message):
        super().__init__(line, field)
        self.line, self.field, self.message = line, field, message


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of each CSV record, blank lines skipped; _Unreadable where
    the quoting is broken or a value is over the csv module's size limit."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise _Unreadable(*_broken_field(text, line)) from None
        if any(f.strip() for f in fields):
            yield line, fields
        line = reader.line_num + 1


def _broken_field(text: str, line: int) -> tuple[int, int, Any]:
    """(line, field number, message) of the field that stops the reader in the record that
    starts on `line`: a value over the size limit, text after a closing quote, or a quote that
    is never closed."""
    lines = io.StringIO(text, newline="")
    i = sum(len(lines.readline()) for _n in range(line - 1))
    limit = csv.field_size_limit()
    field, field_line, length, quoted, closed = 0, line, 0, False, False
    while i < len(text):
        c, i = text[i], i + 1
        if quoted and not closed:
            if c == '"' and not text.startswith('"', i):
                closed = True
                continue
            i += c == '"'  # a doubled quote is one quote of the value
            line += c == "\n" or (c == "\r" and not text.startswith("\n", i))
        elif c == ",":
            field, field_line, length, quoted, closed = field + 1, line, 0, False, False
            continue
        elif c in "\r\n":
            break
        elif c == '"' and length == 0 and not quoted:
            quoted = True
            continue
        elif closed:
            return field_line, field, _l('text after the closing quote (write a quote as "")')
        length += 1
        if length > limit:
            return field_line, field, _l("a value over %(n)s characters", n=limit)
    return field_line, field, _l("this quote is never closed")


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
    names: list[str] = []
    try:
        header_line, header = next(records, (1, []))
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED[kind] if c not in names]
        for column in missing:
            result.problems.append(Problem(header_line, column, _l("required column is missing")))
        if not header:
            result.problems.append(Problem(1, "", _l("the file is empty: a header row is needed")))
        for i, name in enumerate(names):
            if not is_storable(name):
                message = _l("a column name contains characters that are not allowed")
                result.problems.append(Problem(header_line, str(i + 1), message))
        if result.problems:
            return result
        _read_records(kind, records, names, result, progress)
    except _Unreadable as exc:
        # Nothing after a broken quote or an oversized value can be read reliably.
        result.problems.append(Problem(exc.line, _column_name(names, exc.field), exc.message))
        return result
    if result.rows == 0:
        result.problems.append(Problem(header_line, "", _l("the file has no data rows")))
    return result


def _column_name(names: list[str], field: int) -> str:
    """A column's name from the header, or its number when it has none."""
    return names[field] if field < len(names) and names[field] else str(field + 1)


def _read_records(kind, records, names, result: ImportCheck, progress: Progress | None) -> None:
    """Check every data record, then compare the valid ones with existing records."""
    index = {name: i for i, name in reversed(list(enumerate(names))) if name in COLUMNS[kind]}
    ignored = [i for i, name in enumerate(names) if i not in index.values()]
    now = clock.now()
    read_row = row_reader(kind)
    seen: dict[str, int] = {}
    valid: list[tuple[int, dict]] = []
    for line, fields in records:
        result.rows += 1
        values = {name: (fields[i] if i < len(fields) else "") for name, i in index.items()}
        row = Row(line, values, result.problems)
        for i in [*ignored, *range(len(names), len(fields))]:
            # Never stored, but NUL is refused in every field (the one text rule).
            if i < len(fields) and not is_storable(fields[i]):
                column = _column_name(names, i)
                row.problem(
                    column,
                    _l("%(field)s contains characters that are not allowed.", field=column),
                )
        parsed = read_row(row, now)
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
    _compare_existing(kind, valid, result)
    result.problems.sort(key=lambda p: p.line)


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
