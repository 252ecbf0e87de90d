"""Facility walk-through inspections (走動式巡檢) and repair tickets (線上報修, 列管追蹤)."""

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import db
from models.reference import DefectCategory, Floor, Zone


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

    @property
    def is_fixed(self) -> bool:
        """Counts as fixed in the yearly figures (fixed or verified)."""
        return self.state in FIXED_STATES
