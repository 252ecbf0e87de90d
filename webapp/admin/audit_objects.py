"""What an audit entry is about, as people read it: the names behind its ids and codes
(loaded once per page), the object's reference (dispatch and ticket numbers, a user's name, a
year...), its page when the reader may open it, and who acted when no user did."""

import re
from datetime import date

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from models.core import audit, db
from models.dispatch.ack_links import ACTOR_PREFIX
from models.dispatch.late import LateReason
from models.facility import TICKET_MANAGER_ROLES
from models.reference import Agency, DefectCategory, Zone
from models.reports import REPORT_READER_ROLES
from models.users import Role, User
from webapp.filters import roc_date, roc_year
from webapp.i18n import reads_chinese

SETTING_LABELS = {"dispatch_sla_seconds": _l("Dispatch time limit")}
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


SYSTEM_ACTORS = {
    "system": _l("The system"),
    "cli": _l("Command line"),
    "jobs": _l("Scheduled jobs"),
}


def actor_name(actor: str) -> str:
    """A process's name in words; a name typed at a failed sign-in as typed."""
    if actor in SYSTEM_ACTORS:
        return str(SYSTEM_ACTORS[actor])
    if actor.startswith(ACTOR_PREFIX):
        return _("e-mail link of %(address)s", address=actor.removeprefix(ACTOR_PREFIX))
    return actor


class Names:
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
        self.zh = reads_chinese()
        self.agencies = {a.code: a for a in db.session.scalars(select(Agency))}
        self.zones = {z.code: z for z in db.session.scalars(select(Zone))}
        self.categories = {c.code: c for c in db.session.scalars(select(DefectCategory))}
        self.reasons = {r.code: r for r in db.session.scalars(select(LateReason))}

    def named(self, row, code: str) -> str:
        """A reference row's name in the reader's language (the code when there is no row)."""
        if row is None:
            return code
        return row.name_zh if self.zh else row.name_en

    def user(self, user_id) -> str:
        """A user as 王小明（wang）, or #id when the user is not there."""
        user = self.users.get(user_id)
        if user is None:
            return f"#{user_id}"
        return f"{user.name}（{user.username}）" if self.zh else f"{user.name} ({user.username})"

    def reason(self, code: str) -> str:
        """A late reason's label in the reader's language (the code when it is unknown)."""
        row = self.reasons.get(code)
        if row is None:
            return code
        return row.label_zh if self.zh else row.label_en


def reference(entry: audit.AuditEntry, names: Names) -> str:
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


def object_url(entry: audit.AuditEntry) -> str | None:
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
