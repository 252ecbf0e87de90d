"""The audit page's filters: a typed day (ROC or Western), the filters as a dataclass, and
the select() of the entries they ask for (a person by username or name, an object by its
typed reference). The filters are read from a request in webapp.admin.audit_trail."""

import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from models.core import audit, clock, db
from models.core.clock import gregorian_year
from models.reference import Agency
from models.users import User

DAY_FORMATS = re.compile(r"^\s*(\d{2,4})\s*[/\-.年]\s*(\d{1,2})\s*[/\-.月]\s*(\d{1,2})\s*日?\s*$")


def parse_day(text: str) -> date:
    """A day typed as ROC (115/11/26, 115-11-26, 115年11月26日) or Western (2026-11-26,
    2026/11/26); ValueError with a message otherwise."""
    match = DAY_FORMATS.match(text or "")
    if not match:
        raise ValueError(_("Type a date like 115/11/26 or 2026-11-26."))
    year, month, day = (int(part) for part in match.groups())
    if year < 1000:
        year = gregorian_year(year)
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
            return object_type, str(gregorian_year(int(digits)))
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
