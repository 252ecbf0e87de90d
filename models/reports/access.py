"""Who may read the yearly report (page, downloads, evidence, API), who may close a year, and
whose agency scorecard a user may read."""

from flask_babel import gettext as _
from sqlalchemy import select

from models.core import db
from models.core.errors import Forbidden, NotFound
from models.reference import Agency
from models.users import Role

# Clerks read the report; supervisors and administrators too.
REPORT_READER_ROLES = (Role.CLERK, Role.SUPERVISOR, Role.ADMIN)
# Closing a year freezes its published figures: supervisors only.
YEAR_CLOSER_ROLES = (Role.SUPERVISOR,)
# Every agency's scorecard: those who read the yearly report (it shows every agency already).
SCORECARD_ALL_ROLES = REPORT_READER_ROLES
# Agency staff read their own agency's scorecard only.
SCORECARD_ROLES = (Role.AGENCY, *SCORECARD_ALL_ROLES)


def scorecard_agency(user, code: str | None = None) -> Agency | None:
    """The agency whose scorecard `user` asked for (by code): agency staff their own, and
    another agency's code is NotFound as if it did not exist; report readers any agency (None
    when they asked for none); Forbidden for every other role."""
    role = None if user is None else user.role
    if role == Role.AGENCY:
        own = user.agency
        if own is None or (code is not None and code != own.code):
            raise NotFound(_("No such agency."))
        return own
    if role not in SCORECARD_ALL_ROLES:
        raise Forbidden(_("Your role does not allow this."))
    if code is None:
        return None
    agency = db.session.scalar(select(Agency).where(Agency.code == code))
    if agency is None:
        raise NotFound(_("No such agency."))
    return agency
