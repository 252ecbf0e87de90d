"""Counter visits and agency dispatches: the 10-minute clock.

The outcome rules of DESIGN ("What the rate counts") live in `Dispatch.outcome_expr()`, one SQL
expression used both for a single dispatch and for the yearly roll-up.
"""

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    case,
    literal,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models import clock, db
from models.reference import Agency


class VisitKind(enum.StrEnum):
    """Why the visitor came (API codes)."""

    INQUIRY = "inquiry"  # 諮詢
    PETITION = "petition"  # 陳情
    APPLICATION = "application"  # 申辦
    OTHER = "other"  # 其他


class VisitStatus(enum.StrEnum):
    """Where a visit stands at the counter."""

    OPEN = "open"  # being looked after
    SETTLED = "settled"  # settled at the counter, no dispatch
    DISPATCHED = "dispatched"  # an agency was notified
    CLOSED = "closed"  # done (after a dispatch ended)


class DispatchState(enum.StrEnum):
    """A dispatch's state; `notified` and `acknowledged` are open."""

    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    ARRIVED = "arrived"
    CANCELLED = "cancelled"
    TRANSFERRED = "transferred"


OPEN_STATES = (DispatchState.NOTIFIED, DispatchState.ACKNOWLEDGED)


class Outcome(enum.StrEnum):
    """How a dispatch counts in the on-time rate (DESIGN "What the rate counts")."""

    ON_TIME = "on_time"
    LATE = "late"
    PENDING = "pending"  # open within its deadline: not counted yet
    CANCELLED = "cancelled"  # cancelled on or before its deadline: excluded
    TRANSFERRED = "transferred"  # excluded; the new dispatch runs its own clock


class Visit(db.Model):
    """A walk-in visitor logged by a clerk."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    petitioner_name: Mapped[str | None] = mapped_column(String(100))
    petitioner_phone: Mapped[str | None] = mapped_column(String(40))
    is_senior: Mapped[bool] = mapped_column(default=False)
    needs_accessibility: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=VisitStatus.OPEN)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[datetime | None]
    personal_data_erased_at: Mapped[datetime | None]

    agency: Mapped[Agency | None] = relationship(lazy="joined")
    dispatches: Mapped[list["Dispatch"]] = relationship(
        back_populates="visit", order_by="Dispatch.id"
    )


class Dispatch(db.Model):
    """A notice to an agency to send someone to the counter before `deadline_at`."""

    __tablename__ = "dispatch"
    __table_args__ = (
        Index("ix_dispatch_notified_at", "notified_at"),
        Index("ix_dispatch_agency_notified", "agency_id", "notified_at"),
        Index("ix_dispatch_state_deadline", "state", "deadline_at"),
        CheckConstraint("sla_seconds > 0", name="sla_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # An imported record's own reference (unique); None for dispatches made in CityDesk.
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    subject: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(20), default=DispatchState.NOTIFIED)
    notified_at: Mapped[datetime]
    notified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    sla_seconds: Mapped[int]  # snapshot of the SLA in force at notification
    deadline_at: Mapped[datetime]  # notified_at + sla_seconds
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    responder: Mapped[str | None] = mapped_column(String(100))
    eta_minutes: Mapped[int | None]
    arrived_at: Mapped[datetime | None]
    arrived_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    ended_at: Mapped[datetime | None]  # arrived, cancelled or transferred
    end_reason: Mapped[str | None] = mapped_column(Text)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch.id"))

    visit: Mapped[Visit | None] = relationship(back_populates="dispatches")
    agency: Mapped[Agency] = relationship(lazy="joined")

    @property
    def is_open(self) -> bool:
        """Still waiting for someone to arrive."""
        return self.state in OPEN_STATES

    def is_overdue(self, at: datetime | None = None) -> bool:
        """Open past its deadline (computed from deadline_at, never from a job's flag)."""
        return self.is_open and (at or clock.now()) > self.deadline_at

    def outcome(self, at: datetime | None = None) -> Outcome:
        """How this dispatch counts at instant `at` (the same rule as outcome_expr)."""
        at = at or clock.now()
        if self.arrived_at is not None:
            return Outcome.ON_TIME if self.arrived_at <= self.deadline_at else Outcome.LATE
        if self.state == DispatchState.TRANSFERRED:
            return Outcome.TRANSFERRED
        if self.state == DispatchState.CANCELLED:
            return Outcome.LATE if self.ended_at > self.deadline_at else Outcome.CANCELLED
        return Outcome.LATE if at > self.deadline_at else Outcome.PENDING

    @property
    def on_time(self) -> bool | None:
        """True/False once decided, None while pending or excluded."""
        outcome = self.outcome()
        if outcome in (Outcome.ON_TIME, Outcome.LATE):
            return outcome == Outcome.ON_TIME
        return None

    @classmethod
    def outcome_expr(cls, at: datetime):
        """SQL CASE giving each dispatch's Outcome value at instant `at`."""
        return case(
            (
                cls.arrived_at.is_not(None),
                case(
                    (cls.arrived_at <= cls.deadline_at, literal(Outcome.ON_TIME.value)),
                    else_=literal(Outcome.LATE.value),
                ),
            ),
            (cls.state == DispatchState.TRANSFERRED.value, literal(Outcome.TRANSFERRED.value)),
            (
                cls.state == DispatchState.CANCELLED.value,
                case(
                    (cls.ended_at > cls.deadline_at, literal(Outcome.LATE.value)),
                    else_=literal(Outcome.CANCELLED.value),
                ),
            ),
            (cls.deadline_at < at, literal(Outcome.LATE.value)),
            else_=literal(Outcome.PENDING.value),
        )

    @classmethod
    def overdue_clause(cls, at: datetime):
        """SQL condition: open and past the deadline at `at`."""
        return and_(cls.state.in_([s.value for s in OPEN_STATES]), cls.deadline_at < at)


def open_dispatches(at: datetime | None = None):
    """A select() of open dispatches, overdue first, then by deadline."""
    at = at or clock.now()
    overdue_first = case((Dispatch.deadline_at < at, 0), else_=1)
    return (
        select(Dispatch)
        .where(Dispatch.state.in_([s.value for s in OPEN_STATES]))
        .order_by(overdue_first, Dispatch.deadline_at)
    )


__all__ = [
    "Dispatch",
    "DispatchState",
    "OPEN_STATES",
    "Outcome",
    "Visit",
    "VisitKind",
    "VisitStatus",
    "open_dispatches",
]
