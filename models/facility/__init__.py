"""Facility walk-through inspections (走動式巡檢) and repair tickets (線上報修, 列管追蹤).

Tables, the rules of who may do what, and the operations: report a defect, add a report to an
open ticket, assign, start, fix, verify, reopen; inspection plans, rounds and their per-floor
per-category checks; overdue and round-reminder notices. Operations audit and flush; the caller
commits. Every state move is a conditional UPDATE checked by row count, so two people cannot
move the same ticket twice.
"""

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from models import photos, workdays
from models.core import audit, clock, db, outbox
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.core.text import clean_text, get_by_id
from models.reference import DefectCategory, Floor, Zone
from models.users import Role, User


class DefectSource(enum.StrEnum):
    """Where a defect was found."""

    INSPECTION = "inspection"  # in a walk-through round
    REPORT = "report"  # an online repair report


class TicketState(enum.StrEnum):
    """A repair ticket's state."""

    REPORTED = "reported"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    FIXED = "fixed"
    VERIFIED = "verified"


FIXED_STATES = (TicketState.FIXED, TicketState.VERIFIED)
OPEN_STATES = (TicketState.REPORTED, TicketState.ASSIGNED, TicketState.IN_PROGRESS)

# Who works tickets and walks rounds (pages and API use this one tuple).
TICKET_MANAGERS = (Role.FACILITY, Role.SUPERVISOR)

STATE_LABELS = {
    TicketState.REPORTED: _l("Reported"),
    TicketState.ASSIGNED: _l("Assigned"),
    TicketState.IN_PROGRESS: _l("In progress"),
    TicketState.FIXED: _l("Fixed"),
    TicketState.VERIFIED: _l("Verified"),
}
SOURCE_LABELS = {
    DefectSource.INSPECTION: _l("Inspection round"),
    DefectSource.REPORT: _l("Repair report"),
}


class PhotoKind(enum.StrEnum):
    """Before (the defect) or after (the repair)."""

    BEFORE = "before"
    AFTER = "after"


class EventAction(enum.StrEnum):
    """What happened to a ticket (its timeline)."""

    REPORTED = "reported"
    FOUND = "found"  # found in a round
    REPORT_ADDED = "report_added"  # someone else reported the same defect
    ASSIGNED = "assigned"
    STARTED = "started"
    FIXED = "fixed"
    VERIFIED = "verified"
    REOPENED = "reopened"
    PHOTO_ADDED = "photo_added"
    OVERDUE = "overdue"


EVENT_LABELS = {
    EventAction.REPORTED: _l("Reported"),
    EventAction.FOUND: _l("Found in an inspection round"),
    EventAction.REPORT_ADDED: _l("Reported again by someone else"),
    EventAction.ASSIGNED: _l("Assigned"),
    EventAction.STARTED: _l("Work started"),
    EventAction.FIXED: _l("Fixed"),
    EventAction.VERIFIED: _l("Verified"),
    EventAction.REOPENED: _l("Reopened"),
    EventAction.PHOTO_ADDED: _l("Photos added"),
    EventAction.OVERDUE: _l("Overdue: notice sent"),
}


class CheckResult(enum.StrEnum):
    """A round's verdict for one category on one floor."""

    OK = "ok"  # no defect
    DEFECTS = "defects"  # one or more findings


class InspectionPlan(db.Model):
    """How often a zone is walked (e.g. every 7 days for public floors)."""

    __tablename__ = "inspection_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"), unique=True)
    frequency_days: Mapped[int] = mapped_column(default=7)
    active: Mapped[bool] = mapped_column(default=True)

    zone: Mapped[Zone] = relationship(lazy="joined")


class InspectionRound(db.Model):
    """One walk through a zone by an inspector."""

    __tablename__ = "inspection_round"
    __table_args__ = (Index("ix_inspection_round_zone_started", "zone_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    floors: Mapped[str] = mapped_column(String(200), default="")  # comma-separated floor codes
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    zone: Mapped[Zone] = relationship(lazy="joined")
    inspector: Mapped[User | None] = relationship(lazy="joined")
    checks: Mapped[list["RoundCheck"]] = relationship(
        back_populates="round", order_by="RoundCheck.id"
    )

    @property
    def floor_codes(self) -> list[str]:
        """The floors this round covers, in walking order."""
        return [code for code in self.floors.split(",") if code]

    @property
    def is_finished(self) -> bool:
        """The inspector has finished the round."""
        return self.finished_at is not None


class RoundCheck(db.Model):
    """A round's verdict for one category on one floor: no defect, or findings."""

    __tablename__ = "inspection_check"
    __table_args__ = (
        UniqueConstraint("round_id", "floor_id", "category_id", name="uq_inspection_check_place"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_round.id"))
    floor_id: Mapped[int] = mapped_column(ForeignKey("floor.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("defect_category.id"))
    result: Mapped[str] = mapped_column(String(20))
    checked_at: Mapped[datetime]
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    round: Mapped[InspectionRound] = relationship(back_populates="checks")
    floor: Mapped[Floor] = relationship(lazy="joined")
    category: Mapped[DefectCategory] = relationship(lazy="joined")


class Defect(db.Model):
    """A defect and its repair ticket: found in a round or reported online."""

    __tablename__ = "defect"
    __table_args__ = (
        Index("ix_defect_found_at", "found_at"),
        Index("ix_defect_category_found", "category_id", "found_at"),
        Index("ix_defect_place_state", "zone_id", "floor_id", "category_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # An imported record's own reference (unique); None for tickets made in CityDesk.
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("defect_category.id"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id"))
    floor_id: Mapped[int | None] = mapped_column(ForeignKey("floor.id"))
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default=DefectSource.REPORT)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_round.id"))
    state: Mapped[str] = mapped_column(String(20), default=TicketState.REPORTED)
    found_at: Mapped[datetime]
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    due_on: Mapped[date | None]  # Taipei calendar date, by working days per category
    fixed_at: Mapped[datetime | None]  # the latest fix (kept on reopen for the timeline)
    fix_note: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    category: Mapped[DefectCategory] = relationship(lazy="joined")
    zone: Mapped[Zone] = relationship(lazy="joined")
    floor: Mapped[Floor | None] = relationship(lazy="joined")
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    events: Mapped[list["DefectEvent"]] = relationship(
        back_populates="defect", order_by="DefectEvent.id"
    )
    photos: Mapped[list["DefectPhoto"]] = relationship(
        back_populates="defect", order_by="DefectPhoto.id"
    )

    @property
    def is_fixed(self) -> bool:
        """Counts as fixed in the yearly figures (fixed or verified)."""
        return self.state in FIXED_STATES

    @property
    def is_open(self) -> bool:
        """Still to be repaired."""
        return self.state in OPEN_STATES

    def is_overdue(self, today: date | None = None) -> bool:
        """Open after its due date (Taipei calendar)."""
        return self.is_open and self.due_on is not None and (today or clock.today()) > self.due_on

    @property
    def label(self) -> str:
        """How people name the ticket: #12."""
        return f"#{self.id}"

    def place(self, locale: str = "zh") -> str:
        """Zone, floor and location in one line."""
        floor = self.floor.code if self.floor else ""
        parts = [self.zone.display_name(locale), floor, self.location]
        return " · ".join(part for part in parts if part)

    def to_dict(self) -> dict:
        """Audit view of the ticket."""
        return {
            "state": self.state,
            "category": self.category.code if self.category else None,
            "zone": self.zone.code if self.zone else None,
            "floor": self.floor.code if self.floor else None,
            "assignee_id": self.assignee_id,
            "due_on": self.due_on.isoformat() if self.due_on else None,
        }


class DefectEvent(db.Model):
    """One step in a ticket's timeline: who did what, when."""

    __tablename__ = "defect_event"
    __table_args__ = (Index("ix_defect_event_defect", "defect_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    defect_id: Mapped[int] = mapped_column(ForeignKey("defect.id"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    defect: Mapped[Defect] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    photos: Mapped[list["DefectPhoto"]] = relationship(
        back_populates="event", order_by="DefectPhoto.id"
    )

    @property
    def who(self) -> str:
        """The person's display name (or the process's name)."""
        return self.user.name if self.user else self.actor


class DefectPhoto(db.Model):
    """A photo of a defect (before) or of its repair (after); files stored by `models.photos`."""

    __tablename__ = "defect_photo"
    __table_args__ = (Index("ix_defect_photo_defect", "defect_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    defect_id: Mapped[int] = mapped_column(ForeignKey("defect.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("defect_event.id"))
    kind: Mapped[str] = mapped_column(String(10))
    token: Mapped[str] = mapped_column(String(40), unique=True)
    format: Mapped[str] = mapped_column(String(10))
    original_name: Mapped[str] = mapped_column(String(200), default="")
    size_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    uploaded_at: Mapped[datetime]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    defect: Mapped[Defect] = relationship(back_populates="photos")
    event: Mapped[DefectEvent | None] = relationship(back_populates="photos")

    @property
    def content_type(self) -> str:
        """The original's MIME type."""
        return photos.FORMATS.get(self.format, ("bin", "application/octet-stream"))[1]

    def path(self, variant: str | None = None):
        """The file of the original (variant None) or of a resized copy."""
        extension = photos.FORMATS.get(self.format, ("bin", ""))[0]
        return photos.path_for(self.token, extension, variant)


class FieldError(InvalidInput):
    """Bad input in one named field (pages show the message next to that field)."""

    def __init__(self, message, field: str):
        super().__init__(message)
        self.field = field


class MissingAfterPhoto(Conflict):
    """A fix without an after photo: the ticket has none waiting (the API uploads it first)."""

    def __init__(self):
        super().__init__(_l("Add a photo taken after the repair."))
        self.field = "after_photos"


# --- who may do what ----------------------------------------------------------------------


def can_manage(user) -> bool:
    """Facility staff and supervisors work tickets and walk rounds."""
    return bool(user) and user.role in TICKET_MANAGERS


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


def require_manager(user) -> None:
    """Refuse (Forbidden) anyone but facility staff and supervisors."""
    if not can_manage(user):
        raise Forbidden(_l("Only facility staff and supervisors work repair tickets."))


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


# --- helpers ------------------------------------------------------------------------------


def _actor_user_id() -> int | None:
    return audit.current_actor().user_id


def _event(defect: Defect, action: EventAction, *, before: str | None, note: str = "", **kw):
    actor = audit.current_actor()
    event = DefectEvent(
        defect_id=defect.id,
        at=clock.now(),
        action=action.value,
        from_state=before,
        to_state=defect.state,
        user_id=actor.user_id,
        actor=actor.name,
        note=note,
        **kw,
    )
    db.session.add(event)
    db.session.flush()
    return event


def _move(defect: Defect, from_states, to_state: TicketState, **values) -> None:
    """The guarded state change: UPDATE ... WHERE state IN (...); the loser gets Conflict."""
    result = db.session.execute(
        update(Defect)
        .where(Defect.id == defect.id, Defect.state.in_([str(s) for s in from_states]))
        .values(state=to_state.value, **values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(defect)
    if result.rowcount != 1:
        raise Conflict(
            _l(
                "Ticket #%(id)s was changed by someone else meanwhile (it is now %(state)s). "
                "Reload and try again.",
                id=defect.id,
                state=STATE_LABELS.get(defect.state, defect.state),
            )
        )


def _refuse(defect: Defect, move: str):
    return Conflict(
        _l(
            "Ticket #%(id)s is %(state)s: it cannot be %(move)s.",
            id=defect.id,
            state=STATE_LABELS.get(defect.state, defect.state),
            move=move,
        )
    )


def _code(value) -> str | None:
    """A code as typed, or None when it cannot be one (too long, NUL characters)."""
    value = (value or "").strip()
    if not value or len(value) > 64 or "\x00" in value:
        return None
    return value


def _store_photos(defect: Defect, checked, kind: PhotoKind, event: DefectEvent | None):
    rows = []
    for photo in checked:
        token = photos.new_token()
        photos.write(photo, token)
        row = DefectPhoto(
            defect_id=defect.id,
            event_id=event.id if event else None,
            kind=kind.value,
            token=token,
            format=photo.format,
            original_name=photo.filename,
            size_bytes=len(photo.data),
            width=photo.width,
            height=photo.height,
            uploaded_at=clock.now(),
            uploaded_by_id=_actor_user_id(),
        )
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows


def due_date(found_at: datetime, category: DefectCategory) -> date:
    """The due date: the category's working days after the Taipei date it was found."""
    return workdays.add_working_days(clock.local(found_at).date(), category.due_working_days)


def _active_users(*roles: str) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.active, User.role.in_([str(r) for r in roles]))
            .order_by(User.id)
        )
    )


def N_(message: str) -> str:
    """Mark a message for translation; it is translated later, once per language."""
    return message


def _localized(value, locale: str):
    if isinstance(value, Defect):
        return value.place(locale)
    if hasattr(value, "display_name"):
        return value.display_name(locale)
    return value


def _notice_text(message: str, **params) -> dict[str, str]:
    """A notice's title in Chinese and English (names of places and categories too)."""
    texts = {}
    for key, locale in (("title", "zh_Hant_TW"), ("title_en", "en")):
        with force_locale(locale):
            texts[key] = _(message, **{k: _localized(v, locale) for k, v in params.items()})
    return texts


def _notify(user: User, event_key: str, kind: str, defect: Defect, message: str, **params):
    payload = {
        **_notice_text(message, **params),
        "path": f"/facility/tickets/{defect.id}",
        "defect_id": defect.id,
        "state": defect.state,
    }
    return outbox.enqueue(
        event_key,
        kind,
        outbox.Channel.IN_APP,
        f"user:{user.id}",
        payload,
        user_id=user.id,
        defect_id=defect.id,
    )


# --- reference look-ups -------------------------------------------------------------------


def find_by_code(model, code, *, active_only: bool = True):
    """A category, zone or floor by its code, or None."""
    key = _code(code)
    if key is None:
        return None
    stmt = select(model).where(model.code == key)
    if active_only and hasattr(model, "active"):
        stmt = stmt.where(model.active)
    return db.session.scalar(stmt)


def category_by_code(code: str) -> DefectCategory:
    """A defect category by its stable code, else NotFound."""
    row = find_by_code(DefectCategory, code)
    if row is None:
        raise NotFound(_l("Unknown category: %(code)s", code=code))
    return row


def zone_by_code(code: str) -> Zone:
    """An active zone by code, else NotFound."""
    row = find_by_code(Zone, code)
    if row is None:
        raise NotFound(_l("Unknown zone: %(code)s", code=code))
    return row


def floor_by_code(code: str) -> Floor:
    """An active floor by code, else NotFound."""
    row = find_by_code(Floor, code)
    if row is None:
        raise NotFound(_l("Unknown floor: %(code)s", code=code))
    return row


def user_by_username(username: str) -> User | None:
    """A user by exact username, or None."""
    key = _code(username)
    return key and db.session.scalar(select(User).where(User.username == key))


def categories() -> list[DefectCategory]:
    """The four categories in their order."""
    return list(db.session.scalars(select(DefectCategory).order_by(DefectCategory.sort_order)))


def zones(active_only: bool = True) -> list[Zone]:
    """Zones in their order."""
    stmt = select(Zone).order_by(Zone.sort_order, Zone.code)
    if active_only:
        stmt = stmt.where(Zone.active)
    return list(db.session.scalars(stmt))


def floors(active_only: bool = True) -> list[Floor]:
    """Floors from the lowest up."""
    stmt = select(Floor).order_by(Floor.sort_order, Floor.code)
    if active_only:
        stmt = stmt.where(Floor.active)
    return list(db.session.scalars(stmt))


def managers() -> list[User]:
    """People a ticket can be assigned to: active facility staff and supervisors."""
    return _active_users(*TICKET_MANAGERS)


# --- repair tickets -----------------------------------------------------------------------


def similar_open(zone: Zone, floor: Floor | None, category: DefectCategory) -> list[Defect]:
    """Open tickets at the same zone, floor and category (the duplicate hint)."""
    stmt = select(Defect).where(
        Defect.zone_id == zone.id,
        Defect.category_id == category.id,
        Defect.state.in_([s.value for s in OPEN_STATES]),
    )
    stmt = stmt.where(Defect.floor_id == floor.id if floor else Defect.floor_id.is_(None))
    return list(db.session.scalars(stmt.order_by(Defect.found_at)))


def report_defect(
    *,
    user: User,
    category: DefectCategory,
    zone: Zone,
    floor: Floor | None,
    location: str,
    description: str,
    uploads=(),
) -> Defect:
    """File an online repair report (any signed-in user)."""
    description = _check_description(description, floor)
    checked = photos.check_all(uploads)
    return _new_defect(user, category, zone, floor, location, description, checked)


def _check_description(description: str, floor: Floor | None) -> str:
    description = clean_text(description, _("Description"), limit=4000)
    if not description:
        raise FieldError(_l("Describe the problem."), "description")
    if floor is None:
        raise FieldError(_l("Choose the floor."), "floor")
    return description


def _new_defect(user, category, zone, floor, location, description, checked, round=None):
    at = clock.now()
    defect = Defect(
        category_id=category.id,
        zone_id=zone.id,
        floor_id=floor.id,
        location=clean_text(location, _("Location"), limit=200),
        description=description,
        source=(DefectSource.INSPECTION if round else DefectSource.REPORT).value,
        round_id=round.id if round else None,
        state=TicketState.REPORTED.value,
        found_at=at,
        reported_by_id=user.id,
        due_on=due_date(at, category),
    )
    db.session.add(defect)
    db.session.flush()
    action = EventAction.FOUND if round else EventAction.REPORTED
    event = _event(defect, action, before=None, note=defect.description)
    _store_photos(defect, checked, PhotoKind.BEFORE, event)
    audit.record("defect.report", "defect", defect.id, None, defect.to_dict())
    for person in [] if round else _active_users(Role.FACILITY):
        if person.id != user.id:
            _notify(
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


def add_report(defect: Defect, *, user: User, description: str, uploads=()) -> DefectEvent:
    """Add someone's report of the same defect to an open ticket instead of a new one."""
    description = clean_text(description, _("Description"), limit=4000)
    if not description:
        raise FieldError(_l("Describe the problem."), "description")
    checked = photos.check_all(uploads)
    locked = db.session.scalar(
        select(Defect)
        .where(Defect.id == defect.id)
        .with_for_update(of=Defect)
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.state not in OPEN_STATES:
        raise Conflict(
            _l("Ticket #%(id)s is no longer open; file a new report instead.", id=defect.id)
        )
    event = _event(defect, EventAction.REPORT_ADDED, before=defect.state, note=description)
    _store_photos(defect, checked, PhotoKind.BEFORE, event)
    audit.record("defect.report_added", "defect", defect.id, None, {"note": description})
    return event


def assign(defect: Defect, assignee: User, *, by: User) -> Defect:
    """Give the ticket to a facility staff member or supervisor (themselves included)."""
    require_manager(by)
    if not assignee.active or assignee.role not in TICKET_MANAGERS:
        raise FieldError(_l("Tickets go to active facility staff or supervisors."), "assignee")
    if defect.state not in OPEN_STATES:
        raise _refuse(defect, _("assigned"))
    before, before_dict = defect.state, defect.to_dict()
    target = TicketState.ASSIGNED if before == TicketState.REPORTED else TicketState(before)
    _move(defect, [before], target, assignee_id=assignee.id)
    event = _event(defect, EventAction.ASSIGNED, before=before, assignee_id=assignee.id)
    audit.record("defect.assign", "defect", defect.id, before_dict, defect.to_dict())
    if assignee.id != by.id:
        _notify(
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
    _event(defect, EventAction.STARTED, before=TicketState.ASSIGNED.value)
    audit.record("defect.start", "defect", defect.id, before, defect.to_dict())
    return defect


def pending_after_photos(defect: Defect) -> list[DefectPhoto]:
    """After photos uploaded since the last fix, waiting to go with the next one."""
    return list(
        db.session.scalars(
            select(DefectPhoto).where(
                DefectPhoto.defect_id == defect.id,
                DefectPhoto.kind == PhotoKind.AFTER,
                DefectPhoto.event_id.is_(None),
            )
        )
    )


def _fix_note(note: str) -> str:
    note = clean_text(note, _("Note"), limit=4000)
    if not note:
        raise FieldError(_l("Say what was done (a fix note is required)."), "note")
    return note


def _fix(defect: Defect, from_states, note: str, checked, before_state: str, **values) -> Defect:
    waiting = pending_after_photos(defect)
    if not checked and not waiting:
        raise MissingAfterPhoto()
    before = defect.to_dict()
    _move(defect, from_states, TicketState.FIXED, fixed_at=clock.now(), fix_note=note, **values)
    event = _event(defect, EventAction.FIXED, before=before_state, note=note)
    for photo in waiting:
        photo.event_id = event.id
    _store_photos(defect, checked, PhotoKind.AFTER, event)
    audit.record("defect.fix", "defect", defect.id, before, defect.to_dict() | {"note": note})
    reporter = defect.reported_by
    if reporter is not None and reporter.active and reporter.id != _actor_user_id():
        _notify(
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
    note = _fix_note(note)
    checked = photos.check_all(uploads, "after_photos")
    return _fix(defect, [TicketState.IN_PROGRESS], note, checked, TicketState.IN_PROGRESS.value)


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
    _event(defect, EventAction.VERIFIED, before=TicketState.FIXED.value)
    audit.record("defect.verify", "defect", defect.id, before, defect.to_dict())
    return defect


def reopen(defect: Defect, *, by: User, reason: str) -> Defect:
    """Send a fixed or verified ticket back to in progress, with the reason."""
    reason = clean_text(reason, _("Reason"), limit=2000)
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
    event = _event(defect, EventAction.REOPENED, before=before_state, note=reason)
    after = defect.to_dict() | {"reason": reason}
    audit.record("defect.reopen", "defect", defect.id, before, after)
    if defect.assignee is not None and defect.assignee.id != by.id:
        _notify(
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
        if defect.state not in (TicketState.ASSIGNED, TicketState.IN_PROGRESS):
            raise Conflict(_l("After photos go with a ticket that is being worked on."))
    checked = photos.check_all(uploads)
    if not checked:
        raise FieldError(_l("Choose a photo."), "photos")
    event = None
    if kind == PhotoKind.BEFORE:
        event = _event(defect, EventAction.PHOTO_ADDED, before=defect.state)
    rows = _store_photos(defect, checked, kind, event)
    audit.record(
        "defect.photo", "defect", defect.id, None, {"kind": kind.value, "photos": len(rows)}
    )
    return rows


def events_of(defect: Defect) -> list[DefectEvent]:
    """The ticket's timeline, oldest first."""
    return list(
        db.session.scalars(
            select(DefectEvent).where(DefectEvent.defect_id == defect.id).order_by(DefectEvent.id)
        )
    )


# --- lists and the building grid ----------------------------------------------------------


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
        stmt = stmt.where(Defect.state.in_([s.value for s in OPEN_STATES]), Defect.due_on < today)
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


AGE_BANDS = (  # (upper bound in days, css class, label)
    (1, "age-0", _l("under a day")),
    (4, "age-1", _l("1-3 days")),
    (8, "age-2", _l("4-7 days")),
    (None, "age-3", _l("over a week")),
)


def age_band(found_at: datetime, at: datetime | None = None) -> str:
    """The CSS class for how long a ticket has waited."""
    days = ((at or clock.now()) - found_at).total_seconds() / 86400
    for bound, css, _label in AGE_BANDS:
        if bound is None or days < bound:
            return css
    return AGE_BANDS[-1][1]


@dataclass
class GridCell:
    """Open tickets at one zone and floor."""

    count: int
    oldest: datetime
    overdue: int

    @property
    def band(self) -> str:
        """The colour class of the oldest ticket's age."""
        return age_band(self.oldest)


def building_grid(today: date | None = None) -> dict[tuple[int, int | None], GridCell]:
    """Open tickets per (zone id, floor id): count, the oldest's found_at, how many overdue."""
    today = today or clock.today()
    overdue = func.sum(case((Defect.due_on < today, 1), else_=0))
    rows = db.session.execute(
        select(Defect.zone_id, Defect.floor_id, func.count(), func.min(Defect.found_at), overdue)
        .where(Defect.state.in_([s.value for s in OPEN_STATES]))
        .group_by(Defect.zone_id, Defect.floor_id)
    )
    cells = {}
    for zone_id, floor_id, count, oldest, late in rows:
        if oldest is not None and oldest.tzinfo is None:  # SQLite's MIN() loses the type
            oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=clock.UTC)
        elif isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=clock.UTC)
        cells[(zone_id, floor_id)] = GridCell(count=count, oldest=oldest, overdue=int(late or 0))
    return cells


def notify_overdue(today: date | None = None) -> int:
    """Notices for open tickets past their due date, to the assignee and supervisors, once.

    The event key is per ticket and per overdue spell (a reopened ticket that runs late again
    is a new spell), so running this twice sends nothing twice. Returns notices written.
    """
    today = today or clock.today()
    late = db.session.scalars(
        select(Defect)
        .where(Defect.state.in_([s.value for s in OPEN_STATES]), Defect.due_on < today)
        .order_by(Defect.id)
    )
    supervisors = _active_users(Role.SUPERVISOR)
    sent = 0
    for defect in late:
        spell = db.session.scalar(
            select(func.count(DefectEvent.id)).where(
                DefectEvent.defect_id == defect.id,
                DefectEvent.action == EventAction.REOPENED,
            )
        )
        key = f"defect:{defect.id}:overdue:{spell}"
        people = {p.id: p for p in supervisors}
        if defect.assignee is not None and defect.assignee.active:
            people[defect.assignee.id] = defect.assignee
        written = 0
        for person in people.values():
            if _notify(
                person,
                key,
                "defect.overdue",
                defect,
                N_("Repair ticket #%(id)s is overdue (due %(due)s): %(place)s"),
                id=defect.id,
                due=defect.due_on.isoformat(),
                place=defect,
            ):
                written += 1
        if written:
            already = db.session.scalar(
                select(func.count(DefectEvent.id)).where(
                    DefectEvent.defect_id == defect.id,
                    DefectEvent.action == EventAction.OVERDUE,
                )
            )
            if already <= spell:
                _event(defect, EventAction.OVERDUE, before=defect.state)
        sent += written
    return sent


# --- settings -----------------------------------------------------------------------------


def set_due_days(category: DefectCategory, days: int) -> DefectCategory:
    """Change how many working days a category's tickets have (new tickets only)."""
    if not 0 <= days <= 60:
        raise InvalidInput(_l("Between 0 and 60 working days."))
    before = {"due_working_days": category.due_working_days}
    category.due_working_days = days
    after = {"due_working_days": days}
    audit.record("defect_category.due_days", "defect_category", category.code, before, after)
    db.session.flush()
    return category


def set_plan(zone: Zone, frequency_days: int, *, active: bool = True) -> InspectionPlan:
    """Set how often a zone is walked (calendar days between rounds)."""
    if not 1 <= frequency_days <= 366:
        raise InvalidInput(_l("A round every 1 to 366 days."))
    plan = db.session.scalar(select(InspectionPlan).where(InspectionPlan.zone_id == zone.id))
    before = None
    if plan is not None:
        before = {"frequency_days": plan.frequency_days, "active": plan.active}
    if plan is None:
        plan = InspectionPlan(zone_id=zone.id)
        db.session.add(plan)
    plan.frequency_days, plan.active = frequency_days, active
    db.session.flush()
    audit.record(
        "inspection_plan.save",
        "inspection_plan",
        zone.code,
        before,
        {"frequency_days": frequency_days, "active": active},
    )
    return plan


# --- inspection rounds --------------------------------------------------------------------


class RoundStatus(enum.StrEnum):
    """Where a zone stands against its plan."""

    NO_PLAN = "no_plan"
    NEVER = "never"  # planned, never walked: counts as overdue
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    DUE_NEXT = "due_next"  # due on the next working day
    OK = "ok"


ROUND_STATUS_LABELS = {
    RoundStatus.NO_PLAN: _l("No plan"),
    RoundStatus.NEVER: _l("Never walked"),
    RoundStatus.OVERDUE: _l("Overdue"),
    RoundStatus.DUE_TODAY: _l("Due today"),
    RoundStatus.DUE_NEXT: _l("Due next working day"),
    RoundStatus.OK: _l("On schedule"),
}


@dataclass
class ZoneSchedule:
    """A zone's plan, its last finished round and when the next one is due."""

    zone: Zone
    plan: InspectionPlan | None
    last_round: InspectionRound | None
    open_rounds: list[InspectionRound]
    due_on: date | None
    status: RoundStatus

    @property
    def needs_walking(self) -> bool:
        """Overdue, never walked, or due today."""
        return self.status in (RoundStatus.NEVER, RoundStatus.OVERDUE, RoundStatus.DUE_TODAY)


def round_schedule(today: date | None = None) -> list[ZoneSchedule]:
    """Every active zone: its plan, last finished round, due date and status.

    The next round is due `frequency_days` calendar days after the last finished one, moved
    to the next working day when that is a weekend or holiday.
    """
    today = today or clock.today()
    plans = {p.zone_id: p for p in db.session.scalars(select(InspectionPlan))}
    last_finished = (
        select(InspectionRound.zone_id, func.max(InspectionRound.finished_at).label("at"))
        .where(InspectionRound.finished_at.is_not(None))
        .group_by(InspectionRound.zone_id)
        .subquery()
    )
    last = {
        r.zone_id: r
        for r in db.session.scalars(
            select(InspectionRound).join(
                last_finished,
                and_(
                    InspectionRound.zone_id == last_finished.c.zone_id,
                    InspectionRound.finished_at == last_finished.c.at,
                ),
            )
        )
    }
    open_rounds = defaultdict(list)
    for r in db.session.scalars(
        select(InspectionRound)
        .where(InspectionRound.finished_at.is_(None))
        .order_by(InspectionRound.started_at)
    ):
        open_rounds[r.zone_id].append(r)
    calendar = workdays.current()
    next_day = calendar.add_working_days(today, 1)
    result = []
    for zone in zones():
        plan, last_round = plans.get(zone.id), last.get(zone.id)
        due_on = None
        if plan is None or not plan.active:
            status = RoundStatus.NO_PLAN
        elif last_round is None:
            status = RoundStatus.NEVER
        else:
            walked = clock.local(last_round.finished_at).date()
            due_on = calendar.next_working_day(walked + timedelta(days=plan.frequency_days))
            if due_on < today:
                status = RoundStatus.OVERDUE
            elif due_on == today:
                status = RoundStatus.DUE_TODAY
            elif due_on <= next_day:
                status = RoundStatus.DUE_NEXT
            else:
                status = RoundStatus.OK
        result.append(
            ZoneSchedule(zone, plan, last_round, open_rounds.get(zone.id, []), due_on, status)
        )
    return result


def notify_rounds_due(today: date | None = None) -> int:
    """Remind facility staff of rounds due on the next working day and of overdue ones, once.

    Event keys name the zone and the due date, so a reminder is never sent twice for the
    same round. Returns notices written.
    """
    staff = _active_users(Role.FACILITY)
    sent = 0
    for item in round_schedule(today):
        if item.status in (RoundStatus.OVERDUE, RoundStatus.NEVER):
            kind, due = "round.overdue", item.due_on.isoformat() if item.due_on else "never"
            message = N_("Inspection round overdue: %(zone)s (due %(due)s)")
        elif item.status == RoundStatus.DUE_NEXT:
            kind, due = "round.due", item.due_on.isoformat()
            message = N_("Inspection round due %(due)s: %(zone)s")
        else:
            continue
        payload = {
            **_notice_text(message, zone=item.zone, due=due),
            "path": "/facility/rounds",
            "zone": item.zone.code,
            "due_on": item.due_on.isoformat() if item.due_on else None,
        }
        key = f"round:{item.zone.code}:{kind.split('.')[1]}:{due}"
        for person in staff:
            if outbox.enqueue(
                key, kind, outbox.Channel.IN_APP, f"user:{person.id}", payload, user_id=person.id
            ):
                sent += 1
    return sent


def round_floors(inspection: InspectionRound) -> list[Floor]:
    """The round's floors as rows, in walking order."""
    by_code = {f.code: f for f in floors(active_only=False)}
    return [by_code[code] for code in inspection.floor_codes if code in by_code]


def start_round(zone: Zone, floor_list: list[Floor], *, by: User) -> InspectionRound:
    """Start a round; the inspector's unfinished round in the same zone is resumed instead."""
    require_manager(by)
    if not floor_list:
        raise FieldError(_l("Choose at least one floor."), "floors")
    existing = db.session.scalar(
        select(InspectionRound).where(
            InspectionRound.zone_id == zone.id,
            InspectionRound.inspector_id == by.id,
            InspectionRound.finished_at.is_(None),
        )
    )
    if existing is not None:
        return existing
    ordered = sorted({f.id: f for f in floor_list}.values(), key=lambda f: (f.sort_order, f.code))
    inspection = InspectionRound(
        zone_id=zone.id,
        floors=",".join(f.code for f in ordered),
        inspector_id=by.id,
        started_at=clock.now(),
    )
    db.session.add(inspection)
    db.session.flush()
    audit.record(
        "round.start",
        "inspection_round",
        inspection.id,
        None,
        {"zone": zone.code, "floors": inspection.floor_codes},
    )
    return inspection


def _lock_open_round(inspection: InspectionRound, by: User) -> InspectionRound:
    require_manager(by)
    locked = db.session.scalar(
        select(InspectionRound)
        .where(InspectionRound.id == inspection.id)
        .with_for_update(of=InspectionRound)
        .execution_options(populate_existing=True)
    )
    if locked is None or locked.finished_at is not None:
        raise Conflict(_l("This round is finished already."))
    if locked.inspector_id != by.id and by.role != Role.SUPERVISOR:
        raise Forbidden(_l("Only the inspector who started the round can record it."))
    return locked


def _check_place(inspection: InspectionRound, floor: Floor) -> None:
    if floor.code not in inspection.floor_codes:
        raise InvalidInput(_l("Floor %(floor)s is not part of this round.", floor=floor.code))


def checks_by_place(inspection: InspectionRound) -> dict[tuple[int, int], RoundCheck]:
    """The round's checks keyed by (floor id, category id)."""
    rows = db.session.scalars(select(RoundCheck).where(RoundCheck.round_id == inspection.id))
    return {(c.floor_id, c.category_id): c for c in rows}


def _save_check(inspection, floor, category, result: CheckResult, by: User) -> RoundCheck:
    check = db.session.scalar(
        select(RoundCheck).where(
            RoundCheck.round_id == inspection.id,
            RoundCheck.floor_id == floor.id,
            RoundCheck.category_id == category.id,
        )
    )
    if check is None:
        check = RoundCheck(
            round_id=inspection.id,
            floor_id=floor.id,
            category_id=category.id,
            result=result.value,
            checked_at=clock.now(),
            checked_by_id=by.id,
        )
        db.session.add(check)  # the round row is locked: no one else writes its checks now
    else:
        check.result, check.checked_at, check.checked_by_id = result.value, clock.now(), by.id
    db.session.flush()
    return check


def mark_no_defect(
    inspection: InspectionRound, floor: Floor, category: DefectCategory, *, by: User
) -> RoundCheck:
    """Record "no defect" for a category on a floor of the round."""
    inspection = _lock_open_round(inspection, by)
    _check_place(inspection, floor)
    existing = checks_by_place(inspection).get((floor.id, category.id))
    if existing is not None and existing.result == CheckResult.DEFECTS:
        raise Conflict(_l("Findings were recorded here; it cannot also be \u201cno defect\u201d."))
    check = _save_check(inspection, floor, category, CheckResult.OK, by)
    audit.record(
        "round.check",
        "inspection_round",
        inspection.id,
        None,
        {"floor": floor.code, "category": category.code, "result": CheckResult.OK.value},
    )
    return check


def record_finding(
    inspection: InspectionRound,
    floor: Floor,
    category: DefectCategory,
    *,
    by: User,
    location: str,
    description: str,
    uploads=(),
    fixed_on_spot: bool = False,
    fix_note: str = "",
    after_uploads=(),
) -> Defect:
    """Record a finding of the round: a defect ticket, optionally fixed on the spot."""
    inspection = _lock_open_round(inspection, by)
    _check_place(inspection, floor)
    description = _check_description(description, floor)
    before_photos = photos.check_all(uploads)
    if fixed_on_spot:
        fix_note = _fix_note(fix_note)
        after_photos = photos.check_all(after_uploads, "after_photos")
        if not after_photos:
            raise MissingAfterPhoto()
    defect = _new_defect(
        by, category, inspection.zone, floor, location, description, before_photos, inspection
    )
    _save_check(inspection, floor, category, CheckResult.DEFECTS, by)
    if fixed_on_spot:
        _fix(
            defect,
            [TicketState.REPORTED],
            fix_note,
            after_photos,
            TicketState.REPORTED.value,
            assignee_id=by.id,
        )
    return defect


def missing_checks(inspection: InspectionRound) -> list[tuple[Floor, DefectCategory]]:
    """Floor and category pairs of the round not yet checked."""
    done = checks_by_place(inspection)
    cats = categories()
    return [
        (floor, category)
        for floor in round_floors(inspection)
        for category in cats
        if (floor.id, category.id) not in done
    ]


def finish_round(inspection: InspectionRound, *, by: User) -> InspectionRound:
    """Finish the round once every category on every floor is "no defect" or has findings."""
    inspection = _lock_open_round(inspection, by)
    gaps = missing_checks(inspection)
    if gaps:
        first = ", ".join(f"{f.code} {c.name_zh}" for f, c in gaps[:4])
        raise InvalidInput(
            _l(
                "%(count)s checks are still open (%(first)s…). Record each as no defect or add "
                "its findings.",
                count=len(gaps),
                first=first,
            )
        )
    result = db.session.execute(
        update(InspectionRound)
        .where(InspectionRound.id == inspection.id, InspectionRound.finished_at.is_(None))
        .values(finished_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(inspection)
    if result.rowcount != 1:
        raise Conflict(_l("This round is finished already."))
    findings = db.session.scalar(
        select(func.count(Defect.id)).where(Defect.round_id == inspection.id)
    )
    audit.record(
        "round.finish",
        "inspection_round",
        inspection.id,
        None,
        {"zone": inspection.zone.code, "findings": findings},
    )
    return inspection


def round_findings(inspection: InspectionRound) -> list[Defect]:
    """The defects found in a round."""
    return list(
        db.session.scalars(
            select(Defect).where(Defect.round_id == inspection.id).order_by(Defect.id)
        )
    )
