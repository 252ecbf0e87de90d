"""Facility tables and their states: plans, rounds, checks, defects (tickets), events, photos."""

import enum
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import photos
from models.core import clock, db
from models.reference import DefectCategory, Floor, Zone
from models.users import User


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

# A state's name in the operations' own messages ("Ticket #3 is Fixed: ..."); the pages show
# these same names (webapp.facility.labels.STATE_LABELS).
STATE_NAMES = {
    TicketState.REPORTED: _l("Reported"),
    TicketState.ASSIGNED: _l("Assigned"),
    TicketState.IN_PROGRESS: _l("In progress"),
    TicketState.FIXED: _l("Fixed"),
    TicketState.VERIFIED: _l("Verified"),
}
# After photos go with a ticket that is being worked on (see access.accepts_after_photos).
AFTER_PHOTO_STATES = (TicketState.ASSIGNED, TicketState.IN_PROGRESS)


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


class CheckResult(enum.StrEnum):
    """A round's verdict for one category on one floor."""

    OK = "ok"  # no defect
    DEFECTS = "defects"  # one or more findings


class RoundStatus(enum.StrEnum):
    """Where a zone stands against its plan."""

    NO_PLAN = "no_plan"
    NEVER = "never"  # planned, never walked: counts as overdue
    OVERDUE = "overdue"
    DUE_TODAY = "due_today"
    DUE_NEXT = "due_next"  # due on the next working day
    OK = "ok"


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
    # The id the inspector's phone gave the check (offline rounds): a repeat is done already.
    client_id: Mapped[str | None] = mapped_column(String(36), unique=True)

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
    # The id the inspector's phone gave a round's finding (offline rounds): a repeat is done.
    client_id: Mapped[str | None] = mapped_column(String(36), unique=True)

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

    @classmethod
    def overdue_on(cls, today: date):
        """SQL condition: open after its due date on `today` (the same rule as `is_overdue`)."""
        return and_(cls.state.in_([s.value for s in OPEN_STATES]), cls.due_on < today)

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
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])

    @property
    def content_type(self) -> str:
        """The original's MIME type."""
        return photos.FORMATS.get(self.format, ("bin", "application/octet-stream"))[1]

    def path(self, variant: str | None = None):
        """The file of the original (variant None) or of a resized copy."""
        extension = photos.FORMATS.get(self.format, ("bin", ""))[0]
        return photos.path_for(self.token, extension, variant)
