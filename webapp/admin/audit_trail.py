"""The audit trail as a supervisor reads it: people by name, actions in words, the object as a
link with its reference, and each change field by field (before → after) in the reader's
language, with ROC dates. The page and the XLSX export both read entries through `readable()`.
Codes stay in the database; this module only names them."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models.core import audit, clock, db
from webapp.admin.audit_filters import (
    Filters,
    parse_day,
    search,  # noqa: F401 (the audit page's query, here too)
)
from webapp.admin.audit_objects import ISO_DAY, Names, actor_name, object_url, reference
from webapp.desk.labels import KIND_LABELS, SCORE_LABELS, VISIT_STATUS_LABELS
from webapp.desk.labels import STATE_LABELS as DISPATCH_STATES
from webapp.facility.labels import STATE_LABELS as TICKET_STATES
from webapp.filters import colon, roc_date, roc_datetime
from webapp.i18n import LANGUAGE_NAMES
from webapp.nav import ROLE_LABELS
from webapp.xlsx import Book

# One label per action code written anywhere (models/, demo/): a test walks the code for
# `audit.record(...)` calls and fails on a code missing here.
ACTION_LABELS = {
    "auth.login": _l("Signed in"),
    "auth.login_failed": _l("Failed sign-in"),
    "auth.login_throttled": _l("Sign-in refused: too many failures"),
    "auth.logout": _l("Signed out everywhere"),
    "auth.under_attack": _l("Repeated password guessing noticed"),
    "auth.unthrottle": _l("Failed sign-ins cleared"),
    "user.create": _l("Created a user"),
    "user.update": _l("Changed a user"),
    "user.password_change": _l("Changed own password"),
    "user.sound_alerts": _l("Switched the alert sound"),
    "token.create": _l("Issued an API token"),
    "token.revoke": _l("Revoked an API token"),
    "display_link.create": _l("Created a display link"),
    "display_link.revoke": _l("Revoked a display link"),
    "visit.create": _l("Logged a visit"),
    "visit.settle": _l("Settled a visit at the counter"),
    "visit.note": _l("Added a note to a visit"),
    "visit.rate": _l("Recorded the visitor's answer"),
    "visit.view_personal_data": _l("Viewed a visitor's personal data"),
    "visit.personal_data_erased": _l("Erased a visitor's personal data"),
    "dispatch.notify": _l("Notified an agency"),
    "dispatch.acknowledge": _l("Acknowledged a dispatch"),
    "ack_link.use": _l("Acknowledged by e-mail link"),
    "dispatch.arrive": _l("Confirmed the arrival"),
    "dispatch.cancel": _l("Cancelled a dispatch"),
    "dispatch.transfer": _l("Transferred a dispatch"),
    "dispatch.correct_time": _l("Corrected a dispatch time"),
    "dispatch.late_reason": _l("Recorded a late reason"),
    "dispatch.reminded": _l("Reminded the agency before the deadline"),
    "dispatch.breached": _l("Reported a late dispatch"),
    "dispatch.escalated": _l("Escalated a late dispatch to the chief"),
    "late_reason.create": _l("Added a late reason"),
    "late_reason.update": _l("Changed a late reason"),
    "escalation_ladder.save": _l("Changed the escalation ladder"),
    "escalation_ladder.remove_override": _l("Returned an agency to the default ladder"),
    "defect.report": _l("Filed a repair ticket"),
    "defect.report_added": _l("Reported a ticket again"),
    "defect.assign": _l("Assigned a repair ticket"),
    "defect.start": _l("Started work on a repair ticket"),
    "defect.fix": _l("Closed a repair ticket as fixed"),
    "defect.verify": _l("Verified a repair ticket"),
    "defect.reopen": _l("Reopened a repair ticket"),
    "defect.photo": _l("Added photos to a repair ticket"),
    "defect_category.due_days": _l("Changed a category's repair due days"),
    "round.start": _l("Started an inspection round"),
    "round.check": _l("Checked a floor in a round"),
    "round.finish": _l("Finished an inspection round"),
    "inspection_plan.save": _l("Changed an inspection plan"),
    "calendar.load": _l("Loaded the working-day calendar"),
    "calendar.set_day": _l("Set a calendar day"),
    "calendar.remove_day": _l("Removed a calendar day"),
    "agency.create": _l("Added an agency"),
    "agency.update": _l("Changed an agency"),
    "zone.save": _l("Saved a zone"),
    "floor.create": _l("Added a floor"),
    "floor.update": _l("Changed a floor"),
    "setting.update": _l("Changed a setting"),
    "target.update": _l("Set a yearly target"),
    "report.close": _l("Closed a year"),
    "report.monthly_digest": _l("Sent the monthly digest"),
    "import.dispatches": _l("Imported dispatch records"),
    "import.defects": _l("Imported defect records"),
    "demo.dispatches": _l("Made demo dispatches"),
    "demo.published_year": _l("Made the demo's published year"),
    "notification.retry": _l("Retried a failed notice"),
}

OBJECT_LABELS = {
    "dispatch": _l("Dispatch"),
    "defect": _l("Repair ticket"),
    "visit": _l("Visit"),
    "user": _l("User"),
    "report_snapshot": _l("Yearly report"),
    "year_target": _l("Yearly target"),
    "agency": _l("Agency"),
    "zone": _l("Zone"),
    "floor": _l("Floor"),
    "late_reason": _l("Late reason"),
    "escalation_ladder": _l("Escalation ladder"),
    "inspection_round": _l("Inspection round"),
    "inspection_plan": _l("Inspection plan"),
    "defect_category": _l("Defect category"),
    "work_calendar_year": _l("Working-day calendar"),
    "work_calendar_day": _l("Calendar day"),
    "setting": _l("Setting"),
    "api_token": _l("API token"),
    "display_link": _l("Display link"),
    "import": _l("Import"),
    "monthly_digest": _l("Monthly digest"),
    "notification": _l("Notice"),
}

FIELD_LABELS = {
    "state": _l("State"),
    "status": _l("Status"),
    "agency": _l("Agency"),
    "agencies": _l("Agencies"),
    "category": _l("Category"),
    "zone": _l("Zone"),
    "floor": _l("Floor"),
    "floors": _l("Floors"),
    "assignee_id": _l("Assignee"),
    "due_on": _l("Due date"),
    "due_at": _l("Due at"),
    "note": _l("Note"),
    "reason": _l("Reason"),
    "field": _l("Corrected time"),
    "notified_at": _l("Notified at"),
    "sla_seconds": _l("Time limit"),
    "deadline_at": _l("Deadline"),
    "acknowledged_at": _l("Acknowledged at"),
    "responder": _l("Responder"),
    "eta_minutes": _l("Minutes to arrive (estimate)"),
    "arrived_at": _l("Arrived at"),
    "ended_at": _l("Ended at"),
    "end_reason": _l("Reason for ending"),
    "transferred_to_id": _l("Continued as"),
    "kind": _l("Kind"),
    "subject": _l("Subject"),
    "personal_data": _l("Personal data recorded"),
    "is_senior": _l("Senior visitor"),
    "needs_accessibility": _l("Needs accessibility help"),
    "username": _l("Username"),
    "name": _l("Name"),
    "email": _l("E-mail"),
    "emails": _l("E-mail addresses"),
    "role": _l("Role"),
    "active": _l("Active"),
    "locale": _l("Language"),
    "receives_escalations": _l("Receives escalations"),
    "password_changed": _l("Password changed"),
    "failures": _l("Failed sign-ins cleared"),
    "ip": _l("Address"),
    "on": _l("Alert sound"),
    "user": _l("User"),
    "days": _l("Days"),
    "from": _l("Source"),
    "source": _l("Source"),
    "working": _l("Working day"),
    "result": _l("Result"),
    "findings": _l("Findings"),
    "due_working_days": _l("Working days to fix"),
    "frequency_days": _l("Days between rounds"),
    "photos": _l("Photos"),
    "link_id": _l("E-mail link"),
    "recipient": _l("Recipient"),
    "note_id": _l("Note"),
    "dispatch_id": _l("Dispatch"),
    "score": _l("The visitor's answer"),
    "wait_seconds": _l("The visitor's whole wait"),
    "code": _l("Code"),
    "name_zh": _l("Chinese name"),
    "name_en": _l("English name"),
    "label_zh": _l("Chinese label"),
    "label_en": _l("English label"),
    "has_desk": _l("Has a desk in the centre"),
    "extension": _l("Phone extension"),
    "webhook_url": _l("Webhook address"),
    "value": _l("Value"),
    "target": _l("Target (%)"),
    "sort_order": _l("Order"),
    "counted": _l("Counted"),
    "on_time": _l("On time"),
    "late": _l("Late"),
    "rate": _l("On-time rate (%)"),
    "defects_found": _l("Defects found"),
    "defects_fixed": _l("Defects fixed"),
    "notices": _l("Notices"),
    "below_target": _l("Below target"),
    "file": _l("File"),
    "sha256": _l("SHA-256"),
    "rows": _l("Rows"),
    "added": _l("Added"),
    "skipped": _l("Skipped (already there)"),
    "step": _l("Step"),
    "ladder_version": _l("Ladder version"),
    "recorded_at": _l("Recorded at"),
    "version": _l("Version"),
    "inherit": _l("Follows the default ladder"),
    "reminder_before": _l("Reminder before the deadline"),
    "repeat_every": _l("Repeat the reminder every"),
    "breach_to_supervisors": _l("Tell supervisors of a late dispatch"),
    "chief_after": _l("Tell the chief after the deadline"),
    "fields": _l("Fields erased"),
    "last_error": _l("Last error"),
    "dispatches": _l("Dispatches"),
    "defects": _l("Defects"),
    "visits": _l("Visits"),
    "open": _l("Open"),
    "created_at": _l("Logged at"),
    "personal_data_erased_at": _l("Personal data erased at"),
}
SECONDS_FIELDS = {"sla_seconds", "wait_seconds", "reminder_before", "repeat_every", "chief_after"}
PHOTO_KINDS = {"before": _l("Before the repair"), "after": _l("After the repair")}
DELIVERY_STATES = {"pending": _l("Waiting to be sent"), "sent": _l("Sent"), "dead": _l("Dead")}
CHECK_RESULTS = {"ok": _l("No defect"), "defects": _l("Defects found")}
ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def action_label(code: str) -> str:
    """An action in words (the code itself when it has no label yet)."""
    return str(ACTION_LABELS.get(code, code))


def object_label(code: str) -> str:
    """An object type in words."""
    return str(OBJECT_LABELS.get(code, code))


@dataclass
class Change:
    """One field of an entry: its label, the value before and after (text; None: not there)."""

    label: str
    before: str | None
    after: str | None


@dataclass
class Readable:
    """An audit entry as people read it."""

    entry: audit.AuditEntry
    at: str
    who: str
    username: str
    action: str
    object_type: str
    reference: str
    url: str | None
    changes: list[Change] = field(default_factory=list)


# --- values in words: one formatter per field -----------------------------------------------

# A formatter turns a field's stored value (and its text) into words, for an entry about
# `object_type`; None: the value has no special meaning there (shown as a date or as typed).
Formatter = Callable[[Any, str, str, Names], str | None]


def _labelled(labels: dict) -> Formatter:
    """A formatter that shows a code by its label (the code itself when it has none)."""
    return lambda _value, text, _object_type, _names: str(labels.get(text, text))


def _state(_value, text: str, object_type: str, _names: Names) -> str:
    labels = {"defect": TICKET_STATES, "notification": DELIVERY_STATES}
    return str(labels.get(object_type, DISPATCH_STATES).get(text, text))


def _kind(_value, text: str, object_type: str, _names: Names) -> str:
    labels = PHOTO_KINDS if object_type == "defect" else KIND_LABELS
    return str(labels.get(text, text))


def _named(table: str) -> Formatter:
    """A formatter that shows a code of a reference table (agencies, zones...) by its name."""
    return lambda _value, text, _object_type, names: names.named(
        getattr(names, table).get(text), text
    )


def _late_reason(_value, text: str, object_type: str, names: Names) -> str | None:
    if object_type == "dispatch" and text in names.reasons:
        return names.reason(text)
    return None


def _seconds(value, text: str, _object_type: str, _names: Names) -> str | None:
    if not text.lstrip("-").isdigit():
        return None
    minutes, rest = divmod(int(value), 60)
    if rest:
        return _("%(m)d min %(s)02d s", m=minutes, s=rest)
    return _("%(n)d min", n=minutes)


def _dispatch(value, _text: str, _object_type: str, _names: Names) -> str:
    return _("Dispatch #%(id)d", id=int(value))


def _percent(value, _text: str, _object_type: str, _names: Names) -> str:
    return f"{value}%"


FORMATTERS: dict[str, Formatter] = {
    **dict.fromkeys(SECONDS_FIELDS, _seconds),
    "state": _state,
    "status": _labelled(VISIT_STATUS_LABELS),
    "kind": _kind,
    "score": _labelled(SCORE_LABELS),
    "result": _labelled(CHECK_RESULTS),
    "role": _labelled(ROLE_LABELS),
    **dict.fromkeys(("agency", "agencies", "below_target"), _named("agencies")),
    "zone": _named("zones"),
    "category": _named("categories"),
    "reason": _late_reason,
    "assignee_id": lambda value, _text, _object_type, names: names.user(value),
    **dict.fromkeys(("transferred_to_id", "dispatch_id"), _dispatch),
    "field": lambda _value, text, _object_type, _names: _field(text),
    "locale": _labelled(LANGUAGE_NAMES),  # each language by its own name
    **dict.fromkeys(("rate", "target"), _percent),
}


def _value(key: str, value, object_type: str, names: Names) -> str:
    """One stored value in words: dates as ROC dates, codes as their labels."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        comma = "、" if names.zh else ", "
        return comma.join(_value(key, v, object_type, names) for v in value)
    if isinstance(value, dict):
        return ("；" if names.zh else "; ").join(
            f"{_field(k)}{colon()}{_value(k, v, object_type, names)}" for k, v in value.items()
        )
    text = str(value)
    formatter = FORMATTERS.get(key)
    shown = formatter(value, text, object_type, names) if formatter else None
    return _plain(text) if shown is None else shown


def _plain(text: str) -> str:
    """A value no formatter named: an ISO instant or day as an ROC date, else as stored."""
    if ISO_INSTANT.match(text):
        return roc_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))
    if ISO_DAY.match(text):
        return roc_date(date.fromisoformat(text))
    return text


def _field(key: str) -> str:
    return str(FIELD_LABELS.get(key, key))


def _changes(entry: audit.AuditEntry, names: Names) -> list[Change]:
    """The entry's fields: the changed ones when it has a before and an after, else each."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if key in before and key in after and old == new:
            continue  # unchanged: not a change
        kind = entry.object_type
        changes.append(
            Change(
                _field(key),
                _value(key, old, kind, names) if key in before else None,
                _value(key, new, kind, names) if key in after else None,
            )
        )
    return changes


def readable(entries: list[audit.AuditEntry]) -> list[Readable]:
    """The entries as people read them (names, words, links, changes, ROC dates)."""
    names = Names(entries)
    rows = []
    for entry in entries:
        user = names.users.get(entry.user_id) if entry.user_id else None
        who = user.name if user else actor_name(entry.actor)
        rows.append(
            Readable(
                entry=entry,
                at=roc_datetime(entry.at),
                who=who,
                username=user.username if user else "",
                action=action_label(entry.action),
                object_type=object_label(entry.object_type),
                reference=reference(entry, names),
                url=object_url(entry),
                changes=_changes(entry, names),
            )
        )
    return rows


def read_filters(args) -> Filters:
    """The filters from a request's arguments (text trimmed and bounded)."""
    values = {
        k: (args.get(k) or "").strip()[:120]
        for k in ("person", "action", "object_type", "reference", "since", "until")
    }
    filters = Filters(**values)
    for key in ("since", "until"):
        if values[key]:
            try:
                day = parse_day(values[key])
            except ValueError as exc:
                filters.errors[key] = str(exc)
                continue
            if not (clock.FIRST_DAY <= day <= clock.LAST_DAY):
                filters.errors[key] = _(
                    "Pick a date between %(first)s and %(last)s.",
                    first=roc_date(clock.FIRST_DAY),
                    last=roc_date(clock.LAST_DAY),
                )
    if filters.action and filters.action not in ACTION_LABELS and not filters.action.endswith("."):
        filters.errors["action"] = _("Choose an action from the list.")
    if filters.object_type and filters.object_type not in OBJECT_LABELS:
        filters.errors["object_type"] = _("Choose an object type from the list.")
    return filters


def action_choices() -> list[tuple[str, str]]:
    """The action filter's options: every action in words, sorted by its words."""
    return sorted(((code, action_label(code)) for code in ACTION_LABELS), key=lambda p: p[1])


def object_choices() -> list[tuple[str, str]]:
    """The object-type filter's options."""
    return sorted(((code, object_label(code)) for code in OBJECT_LABELS), key=lambda p: p[1])


# --- XLSX for 內控 reviewers -----------------------------------------------------------------

EXPORT_LIMIT = 50_000  # rows in one export (a year of a busy centre); narrow the filters for more


def change_text(change: Change) -> str:
    """One change on one line: 狀態：已修復 → 已驗收."""
    if change.before is None:
        return f"{change.label}{colon()}{change.after}"
    if change.after is None:
        return f"{change.label}{colon()}{change.before} → —"
    return f"{change.label}{colon()}{change.before} → {change.after}"


def to_xlsx(stmt, filters: Filters) -> bytes:
    """The filtered trail as an XLSX workbook for reviewers (zh-TW headers, ROC dates)."""
    book = Book()
    sheet = book.sheet(
        _("Audit trail"),
        [
            _("When"),
            _("By"),
            _("Username"),
            _("Action"),
            _("Object"),
            _("Reference"),
            _("Change"),
            _("Address"),
            _("Sequence"),
        ],
    )
    offset, batch = 0, 500
    while offset < EXPORT_LIMIT:
        entries = db.session.scalars(stmt.limit(batch).offset(offset)).all()
        if not entries:
            break
        for row in readable(entries):
            sheet.row(
                [
                    row.at,
                    row.who,
                    row.username,
                    row.action,
                    row.object_type,
                    row.reference,
                    "\n".join(change_text(c) for c in row.changes),
                    row.entry.ip or "",
                    row.entry.seq,
                ]
            )
        offset += batch
    _about_sheet(book, filters, min(offset, EXPORT_LIMIT) if offset else 0)
    return book.close()


def _about_sheet(book: Book, filters: Filters, total: int) -> None:
    """The export's filters in words, when and by whom it was made, and a word when the
    limit cut it short."""
    about = book.sheet(_("Filters"), [_("Item"), _("Value")])
    for label, value in _filter_lines(filters):
        about.row([label, value])
    about.row([_("Exported at"), roc_datetime(clock.now())])
    about.row([_("Exported by"), current_user.name if current_user.is_authenticated else ""])
    if total >= EXPORT_LIMIT:
        note = _("Only the newest %(n)d entries: narrow the filters.", n=total)
        about.row([_("Attention"), note])


def _filter_lines(filters: Filters) -> list[tuple[str, str]]:
    """The filters of an export in words (「全部」 for one not set)."""
    every = _("All")
    return [
        (_("Person"), filters.person or every),
        (_("Action"), action_label(filters.action) if filters.action else every),
        (_("Object type"), object_label(filters.object_type) if filters.object_type else every),
        (_("Object reference"), filters.reference or every),
        (_("From"), filters.since or every),
        (_("To"), filters.until or every),
    ]


def export_name(at: datetime | None = None) -> str:
    """The export's file name, with the day it was made (Taipei)."""
    day = clock.local(at or clock.now()).date()
    return f"citydesk-audit-{day:%Y%m%d}.xlsx"
