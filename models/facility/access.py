"""Who may see, work, verify and reopen a ticket, and which moves a user may make now."""

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, or_, select

from models.core import db
from models.core.errors import Forbidden, NotFound
from models.core.text import get_by_id
from models.facility.tables import (
    AFTER_PHOTO_STATES,
    FIXED_STATES,
    OPEN_STATES,
    Defect,
    DefectEvent,
    DefectPhoto,
    EventAction,
    TicketState,
)
from models.users import Role

# Who works tickets and walks rounds: the ticket managers (pages, API and operations use this).
# Not to be confused with webapp.security's roles that manage settings and users.
TICKET_MANAGER_ROLES = (Role.FACILITY, Role.SUPERVISOR)


def can_manage(user) -> bool:
    """Facility staff and supervisors work tickets and walk rounds."""
    return bool(user) and user.role in TICKET_MANAGER_ROLES


def require_manager(user) -> None:
    """Refuse (Forbidden) anyone but facility staff and supervisors."""
    if not can_manage(user):
        raise Forbidden(_l("Only facility staff and supervisors work repair tickets."))


def is_reporter(user, defect: Defect) -> bool:
    """The user filed this ticket (or added a report to it)."""
    if not user:
        return False
    if defect.reported_by_id == user.id:
        return True
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    DefectEvent.defect_id == defect.id,
                    DefectEvent.action == EventAction.REPORT_ADDED,
                    DefectEvent.user_id == user.id,
                )
            )
        )
    )


def can_see(user, defect: Defect) -> bool:
    """Managers see every ticket; anyone else the tickets they reported."""
    return can_manage(user) or is_reporter(user, defect)


def reveals(viewer, person) -> bool:
    """Whether `viewer` may see who `person` is on a ticket (and their notes and photos).

    Facility staff and supervisors see everyone. Anyone else sees themselves and the staff who
    work the ticket, never another reporter: joining a ticket ("me too") shows the defect, not
    the people who reported it. `person` None is a process (jobs), shown.
    """
    if person is None or can_manage(viewer):
        return True
    return bool(viewer) and (person.id == viewer.id or can_manage(person))


def visible_photos(viewer, photos) -> list[DefectPhoto]:
    """The photos among `photos` that `viewer` may see (see `reveals`)."""
    return [p for p in photos if reveals(viewer, p.uploaded_by)]


def get_photo(photo_id: int, viewer) -> DefectPhoto:
    """A photo of a ticket the viewer may see, taken by someone they may see, else NotFound."""
    photo = by_id(DefectPhoto, photo_id)
    if photo is not None:
        get_defect(photo.defect_id, viewer)
    if photo is None or not reveals(viewer, photo.uploaded_by):
        raise NotFound(_l("No such photo, or not one you can see."))
    return photo


def last_fixer_id(defect: Defect) -> int | None:
    """Who recorded the latest fix."""
    return db.session.scalar(
        select(DefectEvent.user_id)
        .where(DefectEvent.defect_id == defect.id, DefectEvent.action == EventAction.FIXED)
        .order_by(DefectEvent.id.desc())
        .limit(1)
    )


def can_verify(user, defect: Defect) -> bool:
    """A supervisor or the original reporter, never the person who recorded the fix."""
    if not user:
        return False
    if user.role != Role.SUPERVISOR and defect.reported_by_id != user.id:
        return False
    return last_fixer_id(defect) != user.id


def can_reopen(user, defect: Defect) -> bool:
    """Managers and the original reporter (who may find it not fixed after all)."""
    return can_manage(user) or (bool(user) and defect.reported_by_id == user.id)


def accepts_after_photos(defect: Defect) -> bool:
    """After photos go with a ticket that is being worked on (assigned or in progress)."""
    return defect.state in AFTER_PHOTO_STATES


def can_add_after_photos(user, defect: Defect) -> bool:
    """A manager, on a ticket that is being worked on."""
    return can_manage(user) and accepts_after_photos(defect)


def allowed_moves(user, defect: Defect) -> set[str]:
    """The moves this user may make on this ticket now (for buttons and the API)."""
    moves: set[str] = set()
    manager = can_manage(user)
    if manager and defect.state in OPEN_STATES:
        moves.add("assign")
    if manager and defect.state == TicketState.ASSIGNED:
        moves.add("start")
    if manager and defect.state == TicketState.IN_PROGRESS:
        moves.add("fix")
    if defect.state == TicketState.FIXED and can_verify(user, defect):
        moves.add("verify")
    if defect.state in FIXED_STATES and can_reopen(user, defect):
        moves.add("reopen")
    if manager or (defect.state in OPEN_STATES and is_reporter(user, defect)):
        moves.add("photo")
    return moves


def reported_by(user):
    """SQL condition: tickets the user filed or added a report to."""
    added = select(DefectEvent.defect_id).where(
        DefectEvent.action == EventAction.REPORT_ADDED, DefectEvent.user_id == user.id
    )
    return or_(Defect.reported_by_id == user.id, Defect.id.in_(added))


def visible_to(user, stmt):
    """Narrow a select() of Defect to the tickets `user` may see."""
    if can_manage(user):
        return stmt
    return stmt.where(reported_by(user))


def by_id(model, row_id):
    """A row by primary key; None for a missing row or an id no row can have."""
    return get_by_id(model, row_id)


def get_defect(defect_id: int, user) -> Defect:
    """A ticket the user may see, else NotFound (never reveals others' tickets)."""
    defect = by_id(Defect, defect_id)
    if defect is None or not can_see(user, defect):
        raise NotFound(_l("No such ticket, or not one you can see."))
    return defect
