"""Who may see and do what in the dispatch area: which dispatches a user sees (one rule,
`visible_condition`), fetching one dispatch or visit for a user, role checks, and the audit of
seeing a petitioner's personal data."""

from flask_babel import gettext as _
from sqlalchemy import false, select, true

from models.core import audit, db
from models.core.errors import Forbidden, NotFound
from models.core.text import get_by_id, is_valid_id
from models.dispatch.tables import Dispatch, Visit
from models.users import Role


def require_role(user, *roles: str) -> None:
    """Raise Forbidden unless `user` has one of `roles` (None is the system: always allowed)."""
    if user is not None and user.role not in roles:
        raise Forbidden(_("Your role does not allow this."))


def require_own_agency_or_clerk(user, dispatch: Dispatch) -> None:
    """Acting for the agency on a dispatch: its own agency's staff (another agency's is
    NotFound: they cannot tell it exists) or a clerk taking the agency's call (else Forbidden)."""
    if user is None:
        return  # a process or a link acting on the dispatch's own behalf
    if user.role == Role.AGENCY:
        if user.agency_id != dispatch.agency_id:
            raise NotFound(_("No such dispatch."))
    else:
        require_role(user, Role.CLERK)


def may_act_for_agency(user, dispatch: Dispatch) -> bool:
    """True when `require_own_agency_or_clerk` lets `user` act for the dispatch's agency."""
    try:
        require_own_agency_or_clerk(user, dispatch)
    except (NotFound, Forbidden):
        return False
    return True


def can_see_dispatches(user) -> bool:
    """True for the roles that see dispatches at all (clerk, supervisor, agency staff)."""
    role = None if user is None else user.role
    return role in (Role.CLERK, Role.SUPERVISOR, Role.AGENCY)


def visible_condition(user):
    """SQL condition for the dispatches `user` may see: all for clerks and supervisors, their
    own agency's for agency staff, none for anyone else (the one visibility rule)."""
    role = None if user is None else user.role
    if role in (Role.CLERK, Role.SUPERVISOR):
        return true()
    if role == Role.AGENCY and user.agency_id is not None:
        return Dispatch.agency_id == user.agency_id
    return false()


def visible_dispatches(user):
    """A select() of the dispatches `user` may see (`visible_condition`)."""
    return select(Dispatch).where(visible_condition(user))


def dispatch_for(user, dispatch_id: int) -> Dispatch:
    """The dispatch `user` asked for: NotFound when it does not exist or belongs to another
    agency (agency staff), Forbidden for roles that see no dispatches."""
    if not can_see_dispatches(user):
        raise Forbidden(_("Your role does not allow this."))
    if not is_valid_id(dispatch_id):
        raise NotFound(_("No such dispatch."))
    dispatch = db.session.scalar(visible_dispatches(user).where(Dispatch.id == dispatch_id))
    if dispatch is None:
        raise NotFound(_("No such dispatch."))
    return dispatch


def visit_for(user, visit_id: int) -> Visit:
    """A visit for the counter staff (clerks and supervisors); NotFound when there is none."""
    require_role(user, Role.CLERK, Role.SUPERVISOR)
    visit = get_by_id(Visit, visit_id)
    if visit is None:
        raise NotFound(_("No such visit."))
    return visit


def record_personal_data_view(visit: Visit) -> None:
    """Audit that the signed-in user (the audit actor) saw a petitioner's personal data in
    full."""
    if visit.has_personal_data and visit.personal_data_erased_at is None:
        audit.record("visit.view_personal_data", "visit", visit.id)
