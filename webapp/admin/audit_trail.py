"""The audit trail as a supervisor reads it: people by name, actions in words, the object as a
link with its reference, and each change field by field (before → after) in the reader's
language, with ROC dates. The page and the XLSX export both read entries through `readable()`.
Codes stay in the database; this module only names them."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from models.core import audit, clock, db
from models.dispatch.ack_links import ACTOR_PREFIX
from models.dispatch.late import LateReason
from models.facility import TICKET_MANAGER_ROLES
from models.reference import Agency, DefectCategory, Zone
from models.reports import REPORT_READER_ROLES
from models.users import Role, User
from webapp.desk.labels import KIND_LABELS, SCORE_LABELS, VISIT_STATUS_LABELS
from webapp.desk.labels import STATE_LABELS as DISPATCH_STATES
from webapp.facility.labels import STATE_LABELS as TICKET_STATES
from webapp.filters import roc_date, roc_datetime, roc_year
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
SETTING_LABELS = {"dispatch_sla_seconds": _l("Dispatch time limit")}
ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Who may open each object's page: (endpoint, its argument, the roles that reach it).
STAFF = (Role.CLERK, Role.SUPERVISOR)
LINKS = {
    "dispatch": ("desk.dispatch", "dispatch_id", STAFF),
    "visit": ("desk.visit", "visit_id", STAFF),
    "defect": ("facility.ticket", "defect_id", TICKET_MANAGER_ROLES),
    "inspection_round": ("facility.round_page", "round_id", TICKET_MANAGER_ROLES),
    "user": ("admin.user_edit", "user_id", (Role.ADMIN,)),
    "agency": ("admin.agency_edit", "code", (Role.ADMIN,)),
    "late_reason": ("admin.late_reason_edit", "code", (Role.SUPERVISOR,)),
    "report_snapshot": ("reports.yearly", "year", REPORT_READER_ROLES),
    "year_target": ("reports.yearly", "year", REPORT_READER_ROLES),
}


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


class _Names:
    """The names behind codes and ids, loaded once per page (users by id; the small
    reference tables whole)."""

    def __init__(self, entries: list[audit.AuditEntry]):
        ids = {e.user_id for e in entries if e.user_id}
        for e in entries:
            if e.object_type == "user" and e.object_id and e.object_id.isdigit():
                ids.add(int(e.object_id))
            for values in (e.before, e.after):
                if isinstance(values, dict) and isinstance(values.get("assignee_id"), int):
                    ids.add(values["assignee_id"])
        self.users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
        self.zh = not str(get_locale() or "zh").startswith("en")
        self.agencies = {a.code: a for a in db.session.scalars(select(Agency))}
        self.zones = {z.code: z for z in db.session.scalars(select(Zone))}
        self.categories = {c.code: c for c in db.session.scalars(select(DefectCategory))}
        self.reasons = {r.code: r for r in db.session.scalars(select(LateReason))}

    def named(self, row, code: str) -> str:
        if row is None:
            return code
        return row.name_zh if self.zh else row.name_en

    def user(self, user_id) -> str:
        user = self.users.get(user_id)
        if user is None:
            return f"#{user_id}"
        return f"{user.name}（{user.username}）" if self.zh else f"{user.name} ({user.username})"

    def reason(self, code: str) -> str:
        row = self.reasons.get(code)
        if row is None:
            return code
        return row.label_zh if self.zh else row.label_en


def _seconds(value) -> str:
    seconds = int(value)
    minutes, rest = divmod(seconds, 60)
    if rest:
        return _("%(m)d min %(s)02d s", m=minutes, s=rest)
    return _("%(n)d min", n=minutes)


def _value(key: str, value, object_type: str, names: _Names) -> str:
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
    if key in SECONDS_FIELDS and str(value).lstrip("-").isdigit():
        return _seconds(value)
    text = str(value)
    if key == "state":
        labels = {"defect": TICKET_STATES, "notification": DELIVERY_STATES}
        return str(labels.get(object_type, DISPATCH_STATES).get(text, text))
    if key == "status":
        return str(VISIT_STATUS_LABELS.get(text, text))
    if key == "kind":
        labels = PHOTO_KINDS if object_type == "defect" else KIND_LABELS
        return str(labels.get(text, text))
    if key == "score":
        return str(SCORE_LABELS.get(text, text))
    if key == "result":
        return str(CHECK_RESULTS.get(text, text))
    if key == "role":
        return str(ROLE_LABELS.get(text, text))
    if key in ("agency", "agencies", "below_target"):
        return names.named(names.agencies.get(text), text)
    if key == "zone":
        return names.named(names.zones.get(text), text)
    if key == "category":
        return names.named(names.categories.get(text), text)
    if key == "reason" and object_type == "dispatch" and text in names.reasons:
        return names.reason(text)
    if key == "assignee_id":
        return names.user(value)
    if key in ("transferred_to_id", "dispatch_id"):
        return _("Dispatch #%(id)d", id=int(value))
    if key == "field":
        return _field(text)
    if key == "locale":
        return LANGUAGE_NAMES.get(text, text)  # each language by its own name
    if key in ("rate", "target"):
        return f"{value}%"
    if ISO_INSTANT.match(text):
        return roc_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))
    if ISO_DAY.match(text):
        return roc_date(date.fromisoformat(text))
    return text


def colon() -> str:
    """The colon between a field and its value: full-width in Chinese."""
    return "：" if not str(get_locale() or "zh").startswith("en") else ": "


def _field(key: str) -> str:
    return str(FIELD_LABELS.get(key, key))


def _changes(entry: audit.AuditEntry, names: _Names) -> list[Change]:
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


def _reference(entry: audit.AuditEntry, names: _Names) -> str:
    """The object's reference: dispatch and ticket numbers, a user's name, a year..."""
    kind, oid = entry.object_type, entry.object_id or ""
    if not oid:
        return "—"
    if kind == "dispatch" and oid.isdigit():
        return _("Dispatch #%(id)d", id=int(oid))
    if kind == "defect" and oid.isdigit():
        return _("Ticket #%(id)s", id=oid)
    if kind == "visit" and oid.isdigit():
        return _("Visit #%(id)d", id=int(oid))
    if kind == "inspection_round" and oid.isdigit():
        return _("Round #%(id)s", id=oid)
    if kind == "user" and oid.isdigit():
        return names.user(int(oid))
    if kind in ("report_snapshot", "year_target", "work_calendar_year") and oid.isdigit():
        return roc_year(int(oid)) if kind != "work_calendar_year" else oid
    if kind == "agency":
        return names.named(names.agencies.get(oid), oid)
    if kind in ("zone", "inspection_plan"):
        return names.named(names.zones.get(oid), oid)
    if kind == "defect_category":
        return names.named(names.categories.get(oid), oid)
    if kind == "late_reason":
        return names.reason(oid)
    if kind == "escalation_ladder":
        if oid == "default":
            return _("The default ladder")
        return _("The ladder of %(agency)s", agency=names.named(names.agencies.get(oid), oid))
    if kind == "setting":
        return str(SETTING_LABELS.get(oid, oid))
    if kind == "work_calendar_day" and ISO_DAY.match(oid):
        return roc_date(date.fromisoformat(oid))
    return f"#{oid}" if oid.isdigit() else oid


def _url(entry: audit.AuditEntry) -> str | None:
    """The object's page, when there is one and the reader may open it."""
    link = LINKS.get(entry.object_type)
    oid = entry.object_id
    if link is None or not oid or not current_user.is_authenticated:
        return None
    endpoint, argument, roles = link
    if current_user.role not in roles:
        return None
    if argument in ("dispatch_id", "visit_id", "defect_id", "round_id", "user_id", "year"):
        if not oid.isdigit():
            return None
        return url_for(endpoint, **{argument: int(oid)})
    return url_for(endpoint, **{argument: oid})


def readable(entries: list[audit.AuditEntry]) -> list[Readable]:
    """The entries as people read them (names, words, links, changes, ROC dates)."""
    names = _Names(entries)
    rows = []
    for entry in entries:
        user = names.users.get(entry.user_id) if entry.user_id else None
        who = user.name if user else _actor_name(entry.actor)
        rows.append(
            Readable(
                entry=entry,
                at=roc_datetime(entry.at),
                who=who,
                username=user.username if user else "",
                action=action_label(entry.action),
                object_type=object_label(entry.object_type),
                reference=_reference(entry, names),
                url=_url(entry),
                changes=_changes(entry, names),
            )
        )
    return rows


SYSTEM_ACTORS = {
    "system": _l("The system"),
    "cli": _l("Command line"),
    "jobs": _l("Scheduled jobs"),
}


def _actor_name(actor: str) -> str:
    """A process's name in words; a name typed at a failed sign-in as typed."""
    if actor in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[actor])
    if actor.startswith(ACTOR_PREFIX):
        return _("e-mail link of %(address)s", address=actor.removeprefix(ACTOR_PREFIX))
    return actor


# --- filters ---------------------------------------------------------------------------------

DAY_FORMATS = re.compile(r"^\s*(\d{2,4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?\s*$")


def parse_day(text: str) -> date:
    """A day typed as ROC (115/11/26, 115-11-26, 115年11月26日) or Western (2026-11-26,
    2026/11/26); ValueError with a message otherwise."""
    match = DAY_FORMATS.match(text or "")
    if not match:
        raise ValueError(_("Type a date like 115/11/26 or 2026-11-26."))
    year, month, day = (int(part) for part in match.groups())
    if year < 1000:
        year += 1911
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(_("There is no such day: %(text)s", text=text.strip())) from None


@dataclass
class Filters:
    """The audit page's filters as read from the address, with any errors per field."""

    person: str = ""
    action: str = ""
    object_type: str = ""
    reference: str = ""
    since: str = ""
    until: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def params(self) -> dict[str, str]:
        """The filters for links (pager, export), without empty ones."""
        keys = ("person", "action", "object_type", "reference", "since", "until")
        return {k: getattr(self, k) for k in keys if getattr(self, k)}


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


def _person(text: str) -> tuple[str, int | None]:
    """The actor name and user id a person filter means: a username or a user's name."""
    user = db.session.scalar(
        select(User)
        .where(or_(func.lower(User.username) == text.lower(), User.name == text))
        .order_by(User.id)
        .limit(1)
    )
    return (user.username if user else text), (user.id if user else None)


def _object_id(object_type: str, reference: str) -> tuple[str | None, str | None]:
    """The object type and id a typed reference means: #12 or 12 (a number), a username,
    an ROC or Western year, an agency's name or code."""
    text = reference.strip().lstrip("#＃").strip()
    if not object_type:
        return None, text
    if object_type == "user" and not text.isdigit():
        user = db.session.scalar(
            select(User).where(or_(func.lower(User.username) == text.lower(), User.name == text))
        )
        return object_type, str(user.id) if user else text
    if object_type in ("report_snapshot", "year_target", "work_calendar_year"):
        digits = re.sub(r"\D", "", text)
        if digits and int(digits) < 1000:
            return object_type, str(int(digits) + 1911)
        return object_type, digits or text
    if object_type == "agency":
        agency = db.session.scalar(
            select(Agency).where(or_(Agency.code == text, Agency.name_zh == text))
        )
        return object_type, agency.code if agency else text
    return object_type, text


def search(filters: Filters):
    """The select() of the entries the filters ask for, newest first."""
    actor, user_id = _person(filters.person) if filters.person else (None, None)
    object_type, object_id = (filters.object_type or None), None
    if filters.reference:
        object_type, object_id = _object_id(filters.object_type, filters.reference)
    since = until = None
    if filters.since and "since" not in filters.errors:
        since = clock.day_bounds(parse_day(filters.since))[0]
    if filters.until and "until" not in filters.errors:
        until = clock.day_bounds(parse_day(filters.until))[1]
    stmt = audit.search(
        action=filters.action or None,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        user_id=user_id,
        since=since,
        until=until,
    )
    return stmt


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
    total = min(offset, EXPORT_LIMIT) if offset else 0
    about = book.sheet(_("Filters"), [_("Item"), _("Value")])
    for label, value in _filter_lines(filters):
        about.row([label, value])
    about.row([_("Exported at"), roc_datetime(clock.now())])
    about.row([_("Exported by"), current_user.name if current_user.is_authenticated else ""])
    if total >= EXPORT_LIMIT:
        note = _("Only the newest %(n)d entries: narrow the filters.", n=total)
        about.row([_("Attention"), note])
    return book.close()


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
