"""Repair tickets: report, add a report, assign, start, fix, verify, reopen, photos, the list.

Every move takes the acting user (`by`), checks who may make it, changes the state with a
guarded UPDATE (the loser of a race gets Conflict), adds a timeline step, audits and flushes.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, select
from sqlalchemy.orm import selectinload

from models import photos, workdays
from models.core import audit, clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.core.sql import guarded_update
from models.core.text import clean_text
from models.facility.access import (
    TICKET_MANAGER_ROLES,
    accepts_after_photos,
    allowed_moves,
    can_reopen,
    can_verify,
    last_fixer_id,
    reported_by,
    require_manager,
    visible_to,
)
from models.facility.errors import FieldError, MissingAfterPhoto
from models.facility.lookups import active_users, find_by_code, user_by_username
from models.facility.notices import N_, notify
from models.facility.tables import (
    FIXED_STATES,
    OPEN_STATES,
    STATE_NAMES,
    Defect,
    DefectEvent,
    DefectPhoto,
    DefectSource,
    EventAction,
    InspectionRound,
    PhotoKind,
    TicketState,
)
from models.facility.timeline import pending_after_photos, record_event, store_photos
from models.reference import DefectCategory, Floor, Zone
from models.users import Role, User

DESCRIPTION_LIMIT = 4000
LOCATION_LIMIT = 200
NOTE_LIMIT = 4000
REASON_LIMIT = 2000


def due_date(found_at: datetime, category: DefectCategory) -> date:
    """The due date: the category's working days after the Taipei date it was found."""
    return workdays.add_working_days(clock.local(found_at).date(), category.due_working_days)


def _state_name(defect: Defect):
    return STATE_NAMES.get(defect.state, defect.state)


def _move(defect: Defect, from_states, to_state: TicketState, **values) -> None:
    """The guarded state change: UPDATE ... WHERE state IN (...); the loser gets Conflict."""
    states = Defect.state.in_([str(s) for s in from_states])
    if not guarded_update(defect, states, state=to_state.value, **values):
        raise Conflict(
            _l(
                "Ticket #%(id)s was changed by someone else meanwhile (it is now %(state)s). "
                "Reload and try again.",
                id=defect.id,
                state=_state_name(defect),
            )
        )


def _refuse(defect: Defect, move: str):
    return Conflict(
        _l(
            "Ticket #%(id)s is %(state)s: it cannot be %(move)s.",
            id=defect.id,
            state=_state_name(defect),
            move=move,
        )
    )


# --- reporting ----------------------------------------------------------------------------


def _at_place(zone: Zone, floor: Floor | None, category: DefectCategory):
    """SQL condition: tickets about this category at this zone and floor."""
    return (
        (Defect.zone_id == zone.id)
        & (Defect.category_id == category.id)
        & (Defect.floor_id == floor.id if floor else Defect.floor_id.is_(None))
    )


def similar_open(zone: Zone, floor: Floor | None, category: DefectCategory) -> list[Defect]:
    """Open tickets at the same zone, floor and category (the duplicate hint)."""
    stmt = select(Defect).where(
        _at_place(zone, floor, category), Defect.state.in_([s.value for s in OPEN_STATES])
    )
    return list(db.session.scalars(stmt.order_by(Defect.found_at)))


def checked_description(description: str, floor: Floor | None) -> str:
    """The defect's description as stored (clean text, required) once a floor is chosen."""
    description = clean_text(description, _("Description"), limit=DESCRIPTION_LIMIT)
    if not description:
        raise FieldError(_l("Describe the problem."), "description")
    if floor is None:
        raise FieldError(_l("Choose the floor."), "floor")
    return description


def report_defect(
    *,
    by: User,
    category: DefectCategory,
    zone: Zone,
    floor: Floor | None,
    location: str,
    description: str,
    uploads=(),
) -> Defect:
    """File an online repair report (any signed-in user)."""
    description = checked_description(description, floor)
    checked = photos.check_all(uploads)
    return new_defect(by, category, zone, floor, location, description, checked)


def new_defect(
    by: User,
    category: DefectCategory,
    zone: Zone,
    floor: Floor,
    location: str,
    description: str,
    checked,
    inspection: InspectionRound | None = None,
    *,
    client_id: str | None = None,
) -> Defect:
    """A new ticket, reported online or found in `inspection`, with its before photos."""
    at = clock.now()
    defect = Defect(
        category_id=category.id,
        zone_id=zone.id,
        floor_id=floor.id,
        location=clean_text(location, _("Location"), limit=LOCATION_LIMIT),
        description=description,
        source=(DefectSource.INSPECTION if inspection else DefectSource.REPORT).value,
        round_id=inspection.id if inspection else None,
        state=TicketState.REPORTED.value,
        found_at=at,
        reported_by_id=by.id,
        due_on=due_date(at, category),
        client_id=client_id,
    )
    db.session.add(defect)
    db.session.flush()
    action = EventAction.FOUND if inspection else EventAction.REPORTED
    event = record_event(defect, action, by, before=None, note=defect.description)
    store_photos(defect, checked, PhotoKind.BEFORE, event, by)
    audit.record("defect.report", "defect", defect.id, None, defect.to_dict())
    for person in [] if inspection else active_users(Role.FACILITY):
        if person.id != by.id:
            notify(
                person,
                f"defect:{defect.id}:reported",
                "defect.reported",
                defect,
                N_("New repair ticket #%(id)s: %(category)s at %(place)s"),
                id=defect.id,
                category=category,
                place=defect,
            )
    return defect


def add_report(
    defect: Defect,
    *,
    by: User,
    category: DefectCategory,
    zone: Zone,
    floor: Floor | None,
    description: str,
    uploads=(),
) -> DefectEvent:
    """Add someone's report of the same defect to an open ticket instead of a new one.

    The reporter names the place (category, zone, floor) where they saw it, as the duplicate
    hint showed it: a ticket elsewhere is NotFound, so a ticket number alone opens nothing.
    """
    description = clean_text(description, _("Description"), limit=DESCRIPTION_LIMIT)
    if not description:
        raise FieldError(_l("Describe the problem."), "description")
    checked = photos.check_all(uploads)
    locked = db.session.scalar(
        select(Defect)
        .where(Defect.id == defect.id, _at_place(zone, floor, category))
        .with_for_update(of=Defect)
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise NotFound(_l("No ticket #%(id)s about this at this place.", id=defect.id))
    if locked.state not in OPEN_STATES:
        raise Conflict(
            _l("Ticket #%(id)s is no longer open; file a new report instead.", id=defect.id)
        )
    event = record_event(
        defect, EventAction.REPORT_ADDED, by, before=defect.state, note=description
    )
    store_photos(defect, checked, PhotoKind.BEFORE, event, by)
    audit.record("defect.report_added", "defect", defect.id, None, {"note": description})
    return event


# --- working the ticket -------------------------------------------------------------------


def assign(defect: Defect, assignee: User, *, by: User) -> Defect:
    """Give the ticket to a facility staff member or supervisor (themselves included)."""
    require_manager(by)
    if not assignee.active or assignee.role not in TICKET_MANAGER_ROLES:
        raise FieldError(_l("Tickets go to active facility staff or supervisors."), "assignee")
    if defect.state not in OPEN_STATES:
        raise _refuse(defect, _("assigned"))
    before, before_dict = defect.state, defect.to_dict()
    target = TicketState.ASSIGNED if before == TicketState.REPORTED else TicketState(before)
    _move(defect, [before], target, assignee_id=assignee.id)
    event = record_event(defect, EventAction.ASSIGNED, by, before=before, assignee_id=assignee.id)
    audit.record("defect.assign", "defect", defect.id, before_dict, defect.to_dict())
    if assignee.id != by.id:
        notify(
            assignee,
            f"defect:{defect.id}:assigned:{event.id}",
            "defect.assigned",
            defect,
            N_("Repair ticket #%(id)s was assigned to you: %(place)s"),
            id=defect.id,
            place=defect,
        )
    return defect


def start(defect: Defect, *, by: User) -> Defect:
    """Start work on an assigned ticket."""
    require_manager(by)
    if defect.state != TicketState.ASSIGNED:
        raise _refuse(defect, _("started"))
    before = defect.to_dict()
    _move(defect, [TicketState.ASSIGNED], TicketState.IN_PROGRESS)
    record_event(defect, EventAction.STARTED, by, before=TicketState.ASSIGNED.value)
    audit.record("defect.start", "defect", defect.id, before, defect.to_dict())
    return defect


def checked_fix_note(note: str) -> str:
    """The fix note as stored (clean text, required)."""
    note = clean_text(note, _("Note"), limit=NOTE_LIMIT)
    if not note:
        raise FieldError(_l("Say what was done (a fix note is required)."), "note")
    return note


def close_as_fixed(
    defect: Defect, from_states, note: str, checked, before_state: str, *, by: User, **values
) -> Defect:
    """Move to fixed with the note and the after photos (new or waiting); tell the reporter."""
    waiting = pending_after_photos(defect)
    if not checked and not waiting:
        raise MissingAfterPhoto()
    before = defect.to_dict()
    _move(defect, from_states, TicketState.FIXED, fixed_at=clock.now(), fix_note=note, **values)
    event = record_event(defect, EventAction.FIXED, by, before=before_state, note=note)
    for photo in waiting:
        photo.event_id = event.id
    store_photos(defect, checked, PhotoKind.AFTER, event, by)
    audit.record("defect.fix", "defect", defect.id, before, defect.to_dict() | {"note": note})
    reporter = defect.reported_by
    if reporter is not None and reporter.active and reporter.id != by.id:
        notify(
            reporter,
            f"defect:{defect.id}:fixed:{event.id}",
            "defect.fixed",
            defect,
            N_("Repair ticket #%(id)s is fixed: please check and confirm."),
            id=defect.id,
        )
    return defect


def fix(defect: Defect, *, by: User, note: str, uploads=()) -> Defect:
    """Close the repair as fixed: a note and an after photo are required."""
    require_manager(by)
    if defect.state != TicketState.IN_PROGRESS:
        raise _refuse(defect, _("closed as fixed"))
    note = checked_fix_note(note)
    checked = photos.check_all(uploads, "after_photos")
    in_progress = TicketState.IN_PROGRESS
    return close_as_fixed(defect, [in_progress], note, checked, in_progress.value, by=by)


def verify(defect: Defect, *, by: User) -> Defect:
    """Confirm the repair (a supervisor or the reporter): the ticket is closed."""
    if not can_verify(by, defect):
        if last_fixer_id(defect) == by.id:
            raise Forbidden(_l("Someone other than the person who fixed it must verify it."))
        raise Forbidden(_l("Only a supervisor or the person who reported it can verify a repair."))
    if defect.state != TicketState.FIXED:
        raise _refuse(defect, _("verified"))
    before = defect.to_dict()
    _move(
        defect,
        [TicketState.FIXED],
        TicketState.VERIFIED,
        verified_at=clock.now(),
        verified_by_id=by.id,
    )
    record_event(defect, EventAction.VERIFIED, by, before=TicketState.FIXED.value)
    audit.record("defect.verify", "defect", defect.id, before, defect.to_dict())
    return defect


def reopen(defect: Defect, *, by: User, reason: str) -> Defect:
    """Send a fixed or verified ticket back to in progress, with the reason."""
    reason = clean_text(reason, _("Reason"), limit=REASON_LIMIT)
    if not can_reopen(by, defect):
        raise Forbidden(_l("Only facility staff, supervisors or the reporter can reopen a ticket."))
    if defect.state not in FIXED_STATES:
        raise _refuse(defect, _("reopened"))
    if not reason:
        raise FieldError(_l("Give the reason for reopening."), "reason")
    before_state, before = defect.state, defect.to_dict()
    _move(
        defect,
        [before_state],
        TicketState.IN_PROGRESS,
        verified_at=None,
        verified_by_id=None,
    )
    event = record_event(defect, EventAction.REOPENED, by, before=before_state, note=reason)
    after = defect.to_dict() | {"reason": reason}
    audit.record("defect.reopen", "defect", defect.id, before, after)
    if defect.assignee is not None and defect.assignee.id != by.id:
        notify(
            defect.assignee,
            f"defect:{defect.id}:reopened:{event.id}",
            "defect.reopened",
            defect,
            N_("Repair ticket #%(id)s was reopened: %(reason)s"),
            id=defect.id,
            reason=reason,
        )
    return defect


def add_photos(defect: Defect, *, by: User, kind: PhotoKind, uploads) -> list[DefectPhoto]:
    """Add before photos (managers, or the reporter while open) or after photos (managers)."""
    if "photo" not in allowed_moves(by, defect):
        raise Forbidden(_l("You cannot add photos to this ticket."))
    if kind == PhotoKind.AFTER:
        require_manager(by)
        if not accepts_after_photos(defect):
            raise Conflict(_l("After photos go with a ticket that is being worked on."))
    checked = photos.check_all(uploads)
    if not checked:
        raise FieldError(_l("Choose a photo."), "photos")
    event = None
    if kind == PhotoKind.BEFORE:
        event = record_event(defect, EventAction.PHOTO_ADDED, by, before=defect.state)
    rows = store_photos(defect, checked, kind, event, by)
    audit.record(
        "defect.photo", "defect", defect.id, None, {"kind": kind.value, "photos": len(rows)}
    )
    return rows


# --- the ticket list ----------------------------------------------------------------------


@dataclass
class TicketFilter:
    """What a ticket list is narrowed to (codes as in the API)."""

    state: str | None = None  # a state, "open" or "closed"
    category: str | None = None
    zone: str | None = None
    floor: str | None = None
    assignee: str | None = None  # a username, "me" or "none"
    overdue: bool = False
    source: str | None = None
    found_from: date | None = None  # Taipei dates, inclusive
    found_to: date | None = None
    mine: bool = False  # only tickets the user reported (or added a report to)


def ticket_query(
    user: User, flt: TicketFilter, *, today: date | None = None, newest_first: bool = False
):
    """A select() of the tickets the user may see, narrowed by `flt`, oldest first.

    A filter naming a category, zone, floor or person that does not exist matches nothing,
    and so does a date range that ends before it starts.
    """
    today = today or clock.today()
    stmt = visible_to(user, select(Defect))
    if flt.mine:
        stmt = stmt.where(reported_by(user))
    if flt.state == "open":
        stmt = stmt.where(Defect.state.in_([s.value for s in OPEN_STATES]))
    elif flt.state == "closed":
        stmt = stmt.where(Defect.state.in_([s.value for s in FIXED_STATES]))
    elif flt.state:
        if flt.state not in {s.value for s in TicketState}:
            raise InvalidInput(_l("Unknown state: %(code)s", code=flt.state))
        stmt = stmt.where(Defect.state == flt.state)
    for value, model, column in (
        (flt.category, DefectCategory, Defect.category_id),
        (flt.zone, Zone, Defect.zone_id),
        (flt.floor, Floor, Defect.floor_id),
    ):
        if value:
            row = find_by_code(model, value, active_only=False)
            stmt = stmt.where(column == row.id if row else false())
    if flt.assignee == "me":
        stmt = stmt.where(Defect.assignee_id == user.id)
    elif flt.assignee == "none":
        stmt = stmt.where(Defect.assignee_id.is_(None))
    elif flt.assignee:
        person = user_by_username(flt.assignee)
        stmt = stmt.where(Defect.assignee_id == person.id if person else false())
    if flt.overdue:
        stmt = stmt.where(Defect.overdue_on(today))
    if flt.source:
        if flt.source not in {s.value for s in DefectSource}:
            raise InvalidInput(_l("Unknown source: %(code)s", code=flt.source))
        stmt = stmt.where(Defect.source == flt.source)
    if flt.found_from:
        stmt = stmt.where(Defect.found_at >= clock.day_bounds(flt.found_from)[0])
    if flt.found_to:
        stmt = stmt.where(Defect.found_at < clock.day_bounds(flt.found_to)[1])
    stmt = stmt.options(
        selectinload(Defect.assignee),
        selectinload(Defect.reported_by),
        selectinload(Defect.verified_by),
    )
    if newest_first:
        return stmt.order_by(Defect.found_at.desc(), Defect.id.desc())
    return stmt.order_by(Defect.found_at, Defect.id)
