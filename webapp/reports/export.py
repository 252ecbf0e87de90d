"""The yearly report rendered as CSV, XLSX and text, always from `models.reports.yearly_report()`.

Nothing here counts: every number comes from the report dict (and, for the raw-row sheets, from
`models.reports.evidence.dispatch_rows()`/`defect_rows()`, which apply the same rules row by row).
"""

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.core import clock
from models.reports import (
    DEFECT_ROW_KEYS,
    DISPATCH_ROW_KEYS,
    defect_rows,
    dispatch_rows,
    flatten,
    format_rate,
    format_target,
    minutes,
)
from webapp.csv_safe import csv_writer
from webapp.desk.labels import STATE_LABELS as DISPATCH_STATES
from webapp.facility.labels import SOURCE_LABELS
from webapp.facility.labels import STATE_LABELS as TICKET_STATES
from webapp.filters import aside, colon, labelled
from webapp.i18n import reads_chinese
from webapp.labels import outcome_label, target_note
from webapp.xlsx import Book

# Labels of the figures, shared by the page, the XLSX sheets and the text output.
LABELS = {
    "counted": _l("Counted"),
    "on_time": _l("On time"),
    "late": _l("Late"),
    "pending": _l("Pending (within the time limit)"),
    "cancelled": _l("Excluded: cancelled in time"),
    "transferred": _l("Excluded: transferred"),
    "total": _l("All dispatches"),
    "rate": _l("On-time rate (%)"),
    "target": _l("Target (%)"),
    "target_year": _l("Year the target was set for"),
    "target_met": _l("Target met"),
    "needed_in_a_row": _l("On-time arrivals in a row needed to reach the target"),
    "arrival_median": _l("Median minutes from notice to arrival"),
    "arrival_p90": _l("90th percentile minutes from notice to arrival"),
    "ack_median": _l("Median minutes from notice to acknowledgement"),
    "ack_p90": _l("90th percentile minutes from notice to acknowledgement"),
    "found": _l("Defects found"),
    "fixed": _l("Defects fixed"),
    "open": _l("Still open"),
    "median_working_days_to_fix": _l("Median working days to fix"),
    "within_due": _l("Fixed within the due date"),
    "past_due": _l("Past the due date"),
    "not_yet_due": _l("Open, not yet due"),
    "share_within_due": _l("Share fixed within the due date (%)"),
    "done": _l("Rounds done"),
    "planned": _l("Rounds planned"),
    "agency": _l("Agency"),
    "month": _l("Month"),
    "category": _l("Category"),
    "zone": _l("Zone"),
    "code": _l("Code"),
    "year": _l("Year"),
    "wait_median": _l("Median minutes of the visitor's whole wait"),
    "wait_p90": _l("90th percentile minutes of the visitor's whole wait"),
    "wait_count": _l("Visitors served (with a wait)"),
    "responses": _l("Visitors' answers"),
    "satisfied": _l("Satisfied"),
    "neutral": _l("Neutral"),
    "dissatisfied": _l("Dissatisfied"),
    "share_satisfied": _l("Share satisfied (%)"),
    "wait_minutes": _l("The visitor's whole wait (minutes)"),
    "satisfaction": _l("Visitors' satisfaction"),
    "count": _l("Count"),
}
RATE_KEYS = ("rate", "share_within_due", "share_satisfied")
MIME = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "text": "text/plain; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def label(key: str) -> str:
    """The translated label of a figure key."""
    return str(LABELS.get(key, key))


def yes_no(value: bool | None) -> str:
    """Met / not met / — for a target_met value."""
    if value is None:
        return "—"
    return _("Met") if value else _("Not met")


def _note(figures: dict) -> str:
    """The target's origin in brackets after it (「（沿用113年度目標87%）」), or nothing."""
    note = target_note(figures) if figures.get("target") is not None else None
    if not note:
        return ""
    return f"（{note}）" if reads_chinese() else f" ({note})"


def year_label(year: int) -> str:
    """A year as the picker writes it: 112年度（2023）; in English 2023 (ROC 112)."""
    if reads_chinese():
        return f"{clock.roc_year(year)}年度（{year}）"
    return _("%(year)s (ROC %(roc)s)", year=year, roc=clock.roc_year(year))


# --- JSON -------------------------------------------------------------------------------------


def to_json(report: dict, *, indent: int | None = 2) -> str:
    """The report as JSON text (UTF-8, Chinese kept readable)."""
    return json.dumps(report, ensure_ascii=False, indent=indent)


# --- CSV --------------------------------------------------------------------------------------

CSV_HEADER = ("year", "section", "item", "figure", "value")


def _csv_value(figure: str, value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if figure in RATE_KEYS:
        return format_rate(value)
    if figure == "target":
        return format_target(value)
    if isinstance(value, int | float):
        return value  # a number stays a number (csv_safe escapes text only)
    return str(value)


def _csv_rows(figures: dict) -> Iterator[tuple]:
    year = figures["year"]
    tables = (
        "by_agency",
        "by_month",
        "by_category",
        "by_zone",
        "inspection_rounds",
        "late_reasons",
    )
    for path, value in flatten(figures):
        parts = path.split(".")
        if path in ("year", "roc_year"):
            yield year, "report", "", path, value
            continue
        table = next((i for i, p in enumerate(parts) if p in tables), None)
        if table is not None:
            section = ".".join(parts[: table + 1])
            item = parts[table + 1]
            figure = ".".join(parts[table + 2 :])
        else:
            section, item, figure = parts[0], "", ".".join(parts[1:])
        yield year, section, item, figure, _csv_value(parts[-1], value)
    for number, sentence in enumerate(figures.get("narrative", []), start=1):
        yield year, "narrative", number, "text", sentence


def to_csv(report: dict) -> str:
    """The report as tidy CSV: one figure per row (year, section, item, figure, value),
    this year first, then the previous year and any restatement."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_rows(report))
    if report.get("previous_year"):
        writer.writerows(_csv_rows(report["previous_year"]))
    period = report.get("period") or {}
    if period.get("closed"):
        writer.writerow((report["year"], "period", "", "closed_at", period["closed_at"]))
        writer.writerow((report["year"], "period", "", "closed_by", period["closed_by"]))
    for change in period.get("restatement", []):
        writer.writerow(
            (
                report["year"],
                "restatement",
                change["figure"],
                "frozen → current",
                f"{_csv_value('', change['frozen'])} → {_csv_value('', change['current'])}",
            )
        )
    return out.getvalue()


# --- Text -------------------------------------------------------------------------------------


def to_text(report: dict) -> str:
    """The narrative and the headline figures, for a terminal or an e-mail."""
    d, f = report["dispatch"], report["defects"]
    title, dispatches, defects = _("Yearly compliance report"), _("Dispatches"), _("Defects")
    lines = [
        f"{year_label(report['year'])} — {title}",
        "",
        *report["narrative"],
        "",
        f"{dispatches}{colon()}{label('counted')} {d['counted']} · {label('on_time')} "
        f"{d['on_time']} · {label('late')} {d['late']} · {label('pending')} {d['pending']} · "
        f"{label('cancelled')} {d['excluded']['cancelled']} · {label('transferred')} "
        f"{d['excluded']['transferred']}",
        f"{labelled(label('rate'), format_rate(d['rate']))} · "
        f"{labelled(label('target'), format_target(d['target']) + _note(d))} · "
        f"{labelled(label('target_met'), yes_no(d['target_met']))}",
    ]
    if d.get("year_to_date"):
        needed = d["year_to_date"]["needed_in_a_row"]
        lines.append(labelled(label("needed_in_a_row"), "—" if needed is None else needed))
    lines += _visitor_lines(report)
    lines.append(
        f"{defects}{colon()}{label('found')} {f['found']} · {label('fixed')} {f['fixed']} · "
        f"{label('open')} {f['open']}"
    )
    for c in f["by_category"]:
        lines.append(
            f"  {c['name_zh']}{aside(c['category'])}{colon()}{label('found')} {c['found']} · "
            f"{label('fixed')} {c['fixed']} · {label('open')} {c['open']}"
        )
    period = report.get("period") or {}
    if period.get("closed"):
        lines += [
            "",
            _("Closed by %(name)s at %(at)s", name=period["closed_by"], at=period["closed_at"]),
        ]
        for change in period.get("restatement", []):
            lines.append(
                "  " + _("Restated: %(figure)s %(frozen)s → %(current)s", **_change_text(change))
            )
    return "\n".join(lines) + "\n"


def _change_text(change: dict) -> dict[str, str]:
    def show(value):
        return "—" if value is None else str(value)

    return {
        "figure": change["figure"],
        "frozen": show(change["frozen"]),
        "current": show(change["current"]),
    }


# --- XLSX -------------------------------------------------------------------------------------

# The raw-row sheets' headers: the CSV and the JSON keep the codes, people read these.
RECORD_LABELS = {
    "id": _l("No."),
    "reference": _l("Original reference"),
    "agency": _l("Agency code"),
    "agency_name": _l("Agency"),
    "subject": _l("Subject"),
    "state": _l("State"),
    "notified_at": _l("Notified at"),
    "sla_seconds": _l("Time limit (seconds)"),
    "deadline_at": _l("Deadline"),
    "acknowledged_at": _l("Acknowledged at"),
    "arrived_at": _l("Arrived at"),
    "ended_at": _l("Ended at"),
    "month": _l("Month"),
    "outcome": _l("Outcome"),
    "late_reason": _l("Late reason"),
    "late_reason_note": _l("Late reason explanation"),
    "minutes_to_arrival": _l("Minutes to arrive"),
    "category": _l("Category code"),
    "category_name": _l("Category"),
    "zone": _l("Zone code"),
    "zone_name": _l("Zone"),
    "floor": _l("Floor"),
    "source": _l("Source"),
    "found_at": _l("Found at"),
    "fixed": _l("Fixed"),
    "fixed_at": _l("Fixed at"),
    "due_on": _l("Due date"),
    "working_days_to_fix": _l("Working days to fix"),
    "due_status": _l("Due status"),
    "description": _l("Description"),
}


def _record_header(keys) -> list[str]:
    return [str(RECORD_LABELS.get(key, key)) for key in keys]


def _dispatch_record(row: dict, reasons: dict) -> list:
    """A raw dispatch row in words: its state, outcome and late reason as labels."""
    values = dict(row)
    values["state"] = str(DISPATCH_STATES.get(row["state"], row["state"]))
    values["outcome"] = str(outcome_label(row["outcome"]))
    if row["late_reason"]:
        values["late_reason"] = reasons.get(row["late_reason"], row["late_reason"])
    values["seconds_to_arrival"] = minutes(row["seconds_to_arrival"])
    return list(values.values())


def _defect_record(row: dict) -> list:
    """A raw defect row in words: its source, state, fixed and due status as labels."""
    values = dict(row)
    values["source"] = str(SOURCE_LABELS.get(row["source"], row["source"]))
    values["state"] = str(TICKET_STATES.get(row["state"], row["state"]))
    values["fixed"] = _("Yes") if row["fixed"] else _("No")
    values["due_status"] = label(row["due_status"])
    return list(values.values())


def _summary_rows(report: dict) -> Iterator[tuple[str, Any, Any, bool]]:
    """(label, this year, previous year, is a rate) for the summary sheet."""
    prev = report.get("previous_year") or {}

    def both(path: tuple[str, ...]):
        def get(data):
            for key in path:
                if not isinstance(data, dict):
                    return None
                data = data.get(key)
            return data

        return get(report), get(prev) if prev else None

    rows = [
        ("counted", ("dispatch", "counted")),
        ("on_time", ("dispatch", "on_time")),
        ("late", ("dispatch", "late")),
        ("pending", ("dispatch", "pending")),
        ("cancelled", ("dispatch", "excluded", "cancelled")),
        ("transferred", ("dispatch", "excluded", "transferred")),
        ("rate", ("dispatch", "rate")),
        ("target", ("dispatch", "target")),
        ("target_year", ("dispatch", "target_year")),
        ("target_met", ("dispatch", "target_met")),
        ("arrival_median", ("dispatch", "minutes_to_arrival", "median")),
        ("arrival_p90", ("dispatch", "minutes_to_arrival", "p90")),
        ("ack_median", ("dispatch", "minutes_to_acknowledgement", "median")),
        ("ack_p90", ("dispatch", "minutes_to_acknowledgement", "p90")),
        ("found", ("defects", "found")),
        ("fixed", ("defects", "fixed")),
        ("open", ("defects", "open")),
        ("median_working_days_to_fix", ("defects", "median_working_days_to_fix")),
        ("within_due", ("defects", "within_due")),
        ("past_due", ("defects", "past_due")),
        ("not_yet_due", ("defects", "not_yet_due")),
        ("share_within_due", ("defects", "share_within_due")),
        ("wait_median", ("dispatch", "wait_minutes", "median")),
        ("wait_p90", ("dispatch", "wait_minutes", "p90")),
        ("responses", ("satisfaction", "responses")),
        ("share_satisfied", ("satisfaction", "share_satisfied")),
    ]
    for key, path in rows:
        this, before = both(path)
        if key == "target_met":
            this, before = yes_no(this), yes_no(before) if prev else None
        yield label(key), this, before, key in RATE_KEYS


def _late_reason_sheets(book: Book, d: dict) -> None:
    """The late dispatches by reason: one row per reason, then one row per agency with a late
    dispatch (a column per reason)."""
    reasons = d.get("late_reasons") or []
    if not reasons:
        return
    total = book.sheet(_("Late reasons"), [label("code"), _("Reason"), label("late")])
    for row in reasons:
        total.row([row["code"], row["label"], row["count"]])
    codes = [row["code"] for row in reasons]
    per_agency = book.sheet(
        _("Late reasons by agency"),
        [label("code"), label("agency"), label("late")] + [row["label"] for row in reasons],
    )
    for row in d["by_agency"]:
        if not row.get("late"):
            continue
        counts = {r["code"]: r["count"] for r in row.get("late_reasons") or []}
        per_agency.row(
            [row["agency"], row["name_zh"], row["late"]] + [counts.get(c, 0) for c in codes]
        )


def to_xlsx(report: dict, at: datetime | None = None) -> bytes:
    """The report as an XLSX workbook for people (Chinese sheets, headers and labels, sized
    and set up to print on A4): a summary, one sheet per table, and every raw row."""
    book = Book()
    _summary_sheet(book, report)
    _dispatch_sheets(book, report["dispatch"])
    _late_reason_sheets(book, report["dispatch"])
    _defect_sheets(book, report["defects"])
    _visitor_sheet(book, report)
    _restatement_sheet(book, report.get("period") or {})
    _record_sheets(book, report, at)
    return book.close()


def _summary_sheet(book: Book, report: dict) -> None:
    """The summary: each figure this year (and the year before), the close, the narrative."""
    year = report["year"]
    prev = report.get("previous_year")
    summary = book.sheet(
        _("Summary"),
        [_("Figure"), year_label(year)] + ([year_label(prev["year"])] if prev else []),
    )
    for text, this, before, is_rate in _summary_rows(report):
        summary.row([text, this] + ([before] if prev else []), rates=(1, 2) if is_rate else ())
    d = report["dispatch"]
    if d.get("year_to_date"):
        summary.row([label("needed_in_a_row"), d["year_to_date"]["needed_in_a_row"]])
    period = report.get("period") or {}
    if period.get("closed"):
        summary.row([_("Closed by"), period["closed_by"]])
        summary.row([_("Closed at"), period["closed_at"]])
    summary.blank()
    summary.heading(_("Narrative"))
    for sentence in report["narrative"]:
        summary.note(sentence)


def _dispatch_sheets(book: Book, d: dict) -> None:
    """The dispatches by agency and by month."""
    counts = ["counted", "on_time", "late", "pending", "cancelled", "transferred", "rate"]
    agencies = book.sheet(
        _("By agency"), [label("code"), label("agency")] + [label(k) for k in counts]
    )
    for row in d["by_agency"]:
        agencies.row([row["agency"], row["name_zh"]] + [row[k] for k in counts], rates=(8,))
    months = book.sheet(_("By month"), [label("month")] + [label(k) for k in counts])
    for row in d["by_month"]:
        months.row([row["month"]] + [row[k] for k in counts], rates=(7,))


CATEGORY_KEYS = [
    "found",
    "fixed",
    "open",
    "median_working_days_to_fix",
    "within_due",
    "past_due",
    "not_yet_due",
    "share_within_due",
]


def _defect_sheets(book: Book, f: dict) -> None:
    """The defects by category and by zone, and the inspection rounds done and planned."""
    categories = book.sheet(
        _("Defects by category"),
        [label("code"), label("category")] + [label(k) for k in CATEGORY_KEYS],
    )
    for row in f["by_category"]:
        categories.row(
            [row["category"], row["name_zh"]] + [row[k] for k in CATEGORY_KEYS], rates=(9,)
        )
    zones = book.sheet(
        _("Defects by zone"),
        [label("code"), label("zone"), label("found"), label("fixed"), label("open")],
    )
    for row in f["by_zone"]:
        zones.row([row["zone"], row["name_zh"], row["found"], row["fixed"], row["open"]])
    rounds = book.sheet(
        _("Inspection rounds"),
        [label("code"), label("zone"), label("done"), label("planned")],
    )
    for row in f["inspection_rounds"]:
        rounds.row([row["zone"], row["name_zh"], row["done"], row["planned"]])


def _restatement_sheet(book: Book, period: dict) -> None:
    """A closed year's frozen figures beside the current ones, when they differ."""
    if period.get("restatement"):
        restated = book.sheet(_("Restatement"), [_("Figure"), _("Frozen"), _("Current")])
        for change in period["restatement"]:
            restated.row([change["figure"], change["frozen"], change["current"]])


def _record_sheets(book: Book, report: dict, at: datetime | None) -> None:
    """Every raw row: the year's dispatches and defects, by the same rules as the figures."""
    year = report["year"]
    reasons = {r["code"]: r["label"] for r in report["dispatch"].get("late_reasons") or []}
    raw_dispatches = book.sheet(
        _("Dispatches (records)"),
        _record_header([*DISPATCH_ROW_KEYS[:-1], "minutes_to_arrival"]),
    )
    for row in dispatch_rows(year, at):
        raw_dispatches.row(_dispatch_record(row, reasons))
    raw_defects = book.sheet(_("Defects (records)"), _record_header(DEFECT_ROW_KEYS))
    for row in defect_rows(year, at):
        raw_defects.row(_defect_record(row))


# --- The visitor: the whole wait and the verdict (issue 13) ----------------------------------


def _show(value) -> str:
    return "—" if value is None else str(value)


def _visitor_lines(report: dict) -> list[str]:
    """The text output's lines on the visitor's wait and satisfaction (when in the report)."""
    wait = report["dispatch"].get("wait_minutes")
    answers = report.get("satisfaction")
    lines = []
    if wait:
        lines.append(
            f"{labelled(label('wait_median'), _show(wait['median']))} · "
            f"{labelled(label('wait_p90'), _show(wait['p90']))} · "
            f"{labelled(label('wait_count'), wait['count'])}"
        )
    if answers:
        lines.append(
            f"{labelled(label('responses'), answers['responses'])} · "
            f"{labelled(label('share_satisfied'), format_rate(answers['share_satisfied']))}"
        )
    return lines


VISITOR_COLUMNS = (
    "rate",
    "wait_count",
    "wait_median",
    "wait_p90",
    "responses",
    "satisfied",
    "neutral",
    "dissatisfied",
    "share_satisfied",
)


def visitor_rows(report: dict) -> list[dict[str, Any]]:
    """Per agency: the on-time rate beside the visitor's wait and the visitors' answers (the
    agencies in any of the three lists, in the report's order); keys of VISITOR_COLUMNS."""
    d = report["dispatch"]
    wait = {r["agency"]: r for r in (d.get("wait_minutes") or {}).get("by_agency", [])}
    answers = {r["agency"]: r for r in (report.get("satisfaction") or {}).get("by_agency", [])}
    rows, seen = [], set()
    for source in (d["by_agency"], list(wait.values()), list(answers.values())):
        for row in source:
            if row["agency"] in seen:
                continue
            seen.add(row["agency"])
            code = row["agency"]
            rate = next((r["rate"] for r in d["by_agency"] if r["agency"] == code), None)
            w, a = wait.get(code, {}), answers.get(code, {})
            rows.append(
                {
                    "agency": code,
                    "name_zh": row["name_zh"],
                    "name_en": row["name_en"],
                    "rate": rate,
                    "wait_count": w.get("count", 0),
                    "wait_median": w.get("median"),
                    "wait_p90": w.get("p90"),
                    "responses": a.get("responses", 0),
                    "satisfied": a.get("satisfied", 0),
                    "neutral": a.get("neutral", 0),
                    "dissatisfied": a.get("dissatisfied", 0),
                    "share_satisfied": a.get("share_satisfied"),
                }
            )
    return rows


def _visitor_sheet(book: Book, report: dict) -> None:
    """The XLSX sheet of the visitor's wait and satisfaction per agency, beside the rate."""
    if "satisfaction" not in report and "wait_minutes" not in report["dispatch"]:
        return  # figures frozen before issue 13
    table = book.sheet(
        _("Visitors by agency"),
        [label("code"), label("agency")] + [label(k) for k in VISITOR_COLUMNS],
    )
    rates = tuple(2 + i for i, k in enumerate(VISITOR_COLUMNS) if k in RATE_KEYS)
    for row in visitor_rows(report):
        table.row([row["agency"], row["name_zh"]] + [row[k] for k in VISITOR_COLUMNS], rates)
