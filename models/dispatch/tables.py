"""The dispatch area's tables and states: a counter visit, the dispatches it gives rise to and
the clerk's notes, with the outcome rule (DESIGN "What the rate counts") on the dispatch.

The outcome rule lives in `Dispatch.outcome()` and `Dispatch.outcome_expr()`: one rule, written
for a single dispatch and as one SQL expression for roll-ups; a test pins that they agree.

The visitor's wait (DESIGN "The visitor's wait") is written the same way: `Visit.served_dispatch`
and `Visit.visitor_wait()` for one visit, `Dispatch.serves_visit_clause()` for roll-ups (the
dispatch whose arrival ended the wait); `Visit.priority_expr()` is the SQL twin of
`Visit.needs_priority` (seniors and visitors needing accessibility first).
"""

import enum
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from models.core import clock, db
from models.reference import Agency

if TYPE_CHECKING:
    from models.users import User


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
OPEN_VALUES = [s.value for s in OPEN_STATES]  # the same, as stored (for SQL)


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
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])
    note_entries: Mapped[list["VisitNote"]] = relationship(
        back_populates="visit", order_by="VisitNote.id"
    )
    rating: Mapped["VisitRating | None"] = relationship(back_populates="visit", uselist=False)

    @property
    def has_personal_data(self) -> bool:
        """True when a petitioner's name or phone is on record (and not erased)."""
        return bool(self.petitioner_name or self.petitioner_phone)

    @property
    def open_dispatch(self) -> "Dispatch | None":
        """The dispatch still running for this visit, if any."""
        return next((d for d in self.dispatches if d.is_open), None)

    @property
    def needs_priority(self) -> bool:
        """A senior, or a visitor needing accessibility: marked and listed first."""
        return bool(self.is_senior or self.needs_accessibility)

    @classmethod
    def priority_expr(cls):
        """SQL twin of `needs_priority` (for ordering lists)."""
        return or_(cls.is_senior, cls.needs_accessibility)

    @property
    def served_dispatch(self) -> "Dispatch | None":
        """The dispatch whose responder finally served the visitor: the latest arrival among
        the visit's dispatches (across transfers and re-notifications); None while nobody
        arrived. The same rule as `Dispatch.serves_visit_clause()`."""
        arrived = [d for d in self.dispatches if d.arrived_at is not None]
        return max(arrived, key=lambda d: (d.arrived_at, d.id), default=None)

    def visitor_wait(self) -> timedelta | None:
        """The visitor's whole wait: from the visit's logging (`created_at`) to the arrival of
        the responder who finally served it; None when nobody arrived (not zero)."""
        served = self.served_dispatch
        return None if served is None else served.arrived_at - self.created_at

    @property
    def wait_seconds(self) -> int | None:
        """The visitor's whole wait in whole seconds (half up, as the roll-up's SQL rounds)."""
        wait = self.visitor_wait()
        return None if wait is None else clock.whole_seconds(wait)

    def wait_at(self, at: datetime | None = None) -> timedelta:
        """How long the visitor has waited at instant `at`: the whole wait once served, else
        the time since the visit was logged."""
        wait = self.visitor_wait()
        if wait is not None:
            return wait
        return (at or clock.now()) - self.created_at


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
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # 0004
    end_reason: Mapped[str | None] = mapped_column(Text)
    transferred_to_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch.id"))
    # 0017: the escalation ladder version in effect for the agency when it was notified
    # (models.dispatch.ladder); None: the configured ladder applies.
    ladder_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_ladder.id"))

    visit: Mapped[Visit | None] = relationship(back_populates="dispatches")
    agency: Mapped[Agency] = relationship(lazy="joined")
    notified_by: Mapped["User | None"] = relationship(foreign_keys=[notified_by_id])
    acknowledged_by: Mapped["User | None"] = relationship(foreign_keys=[acknowledged_by_id])
    arrived_by: Mapped["User | None"] = relationship(foreign_keys=[arrived_by_id])
    ended_by: Mapped["User | None"] = relationship(foreign_keys=[ended_by_id])

    @property
    def is_open(self) -> bool:
        """Still waiting for someone to arrive."""
        return self.state in OPEN_STATES

    def is_overdue(self, at: datetime | None = None) -> bool:
        """Open past its deadline (computed from deadline_at, never from a job's flag)."""
        return self.is_open and clock.is_past(self.deadline_at, at or clock.now())

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

    def on_time_at(self, at: datetime | None = None) -> bool | None:
        """On time (True) or late (False) at instant `at`; None while pending or excluded."""
        return {Outcome.ON_TIME: True, Outcome.LATE: False}.get(self.outcome(at))

    @property
    def on_time(self) -> bool | None:
        """On time (True) or late (False) now; None while pending or excluded."""
        return self.on_time_at()

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
            (cls.past_deadline(at), literal(Outcome.LATE.value)),
            else_=literal(Outcome.PENDING.value),
        )

    @classmethod
    def past_deadline(cls, at):
        """SQL condition: the deadline has passed at `at` (the one statement of it in SQL; its
        negation `~past_deadline(at)` renders as `deadline_at >= at`)."""
        return cls.deadline_at < at

    @classmethod
    def overdue_clause(cls, at: datetime):
        """SQL condition: open and past the deadline at `at`."""
        return and_(cls.state.in_(OPEN_VALUES), cls.past_deadline(at))

    @classmethod
    def serves_visit_clause(cls):
        """SQL condition: this dispatch is the one that finally served its visit (it arrived
        and no other dispatch of the visit arrived later): `Visit.served_dispatch` in SQL."""
        other = aliased(cls)
        later = (
            select(other.id)
            .where(
                other.visit_id == cls.visit_id,
                other.arrived_at.is_not(None),
                or_(
                    other.arrived_at > cls.arrived_at,
                    and_(other.arrived_at == cls.arrived_at, other.id > cls.id),
                ),
            )
            .exists()
        )
        return and_(cls.visit_id.is_not(None), cls.arrived_at.is_not(None), ~later)


class VisitNote(db.Model):
    """A clerk's note while looking after a visitor (代為接待), with time and author: free text,
    or a one-tap care note (`kind` is its code, `text` its Chinese label when recorded)."""

    __tablename__ = "visit_note"
    __table_args__ = (Index("ix_visit_note_visit", "visit_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch.id"))
    at: Mapped[datetime]
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(40))  # 0014: a care note's code, else None

    visit: Mapped[Visit] = relationship(back_populates="note_entries")
    by: Mapped["User | None"] = relationship(foreign_keys=[by_id])


class RatingScore(enum.StrEnum):
    """The visitor's verdict at the counter (質化指標), API codes."""

    SATISFIED = "satisfied"  # 滿意
    NEUTRAL = "neutral"  # 普通
    DISSATISFIED = "dissatisfied"  # 不滿意


SCORE_VALUES = [s.value for s in RatingScore]


class VisitRating(db.Model):
    """The visitor's one answer after the responder arrived (unique per visit, in the DB)."""

    __tablename__ = "visit_rating"
    __table_args__ = (
        UniqueConstraint("visit_id", name="uq_visit_rating_visit_id"),
        CheckConstraint("score IN ('satisfied', 'neutral', 'dissatisfied')", name="score_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    # The dispatch that served the visitor when they answered (its agency is the one rated).
    dispatch_id: Mapped[int] = mapped_column(ForeignKey("dispatch.id"))
    score: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # whose screen it was

    visit: Mapped[Visit] = relationship(back_populates="rating")
    dispatch: Mapped[Dispatch] = relationship()


# The dispatches of a visit (the board's served/wait look-ups, the served-dispatch rule).
Index("ix_dispatch_visit_arrived", Dispatch.visit_id, Dispatch.arrived_at)


class InboxPresence(db.Model):
    """When an agency's inbox last polled for dispatches (one row per agency, written at most
    every few seconds): the desk sees whether an alert can reach someone there."""

    __tablename__ = "inbox_presence"

    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    seen_at: Mapped[datetime]
