"""Reading dispatches: the open ones (the live board, bounded to today's and those whose clock
still runs; the earlier ones for the end of day, 日結), today's (the desk and the agency inbox),
the history with its filters, outcome counts and the on-time rate, corrections and transfers.
Every list a user sees goes through `visible_condition` (models.dispatch.access)."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import selectinload

from models.core import audit, clock, db
from models.dispatch.access import visible_condition, visible_dispatches
from models.dispatch.rules import on_time_rate
from models.dispatch.tables import OPEN_VALUES, Dispatch, Visit
from models.reference import Agency

# What the dispatch lists show of each row, loaded with it (not one query per row): the visit
# with its dispatches (the visitor's wait) and who acknowledged.
DETAILS = (
    selectinload(Dispatch.visit).selectinload(Visit.dispatches),
    selectinload(Dispatch.acknowledged_by),
)


# --- The live pages' bound and the end of day (日結) ------------------------------------
#
# The live pages show the open dispatches of today (the Asia/Taipei day) and any whose clock is
# still running (notified before midnight, deadline not yet passed): `on_board`. Every other
# open dispatch is from an earlier day and past its deadline (`from_earlier_day`): the live
# pages only count it, up to EARLIER_COUNT_CAP (so a poll's cost does not grow with forgotten
# dispatches), and the desk settles it at the end of day (`earlier_open`). The two conditions
# split the open dispatches between them with nothing left over.

# The earlier open dispatches are counted up to this many ("100 or more"): a bounded poll.
EARLIER_COUNT_CAP = 100


def day_start(at: datetime) -> datetime:
    """The UTC instant the Asia/Taipei day of `at` began."""
    return clock.day_bounds(clock.local(at).date())[0]


def on_board(at, start=None):
    """SQL condition: open and shown live at `at` (notified today, Taipei, or its deadline
    not passed yet). `at` and `start` (the day's start) may be bound parameters."""
    start = day_start(at) if start is None else start
    return and_(
        Dispatch.state.in_(OPEN_VALUES),
        or_(Dispatch.notified_at >= start, ~Dispatch.past_deadline(at)),
    )


def from_earlier_day(at, start=None):
    """SQL condition: open, notified before today (Taipei) and past its deadline at `at`: for
    the end of day (日結), not the live pages. The complement of `on_board` among open ones."""
    start = day_start(at) if start is None else start
    return and_(
        Dispatch.state.in_(OPEN_VALUES),
        Dispatch.notified_at < start,
        Dispatch.past_deadline(at),
    )


def earlier_count(user, at, start=None):
    """A scalar select: how many earlier open dispatches `user` may see, up to the cap."""
    capped = (
        select(literal(1).label("one"))
        .select_from(Dispatch)
        .where(from_earlier_day(at, start), visible_condition(user))
        .limit(EARLIER_COUNT_CAP)
        .subquery()
    )
    return select(func.count()).select_from(capped)


def earlier_open(user, at: datetime | None = None) -> list[Dispatch]:
    """The open dispatches from an earlier day `user` may see (日結), oldest first."""
    at = at or clock.now()
    stmt = (
        select(Dispatch)
        .where(from_earlier_day(at), visible_condition(user))
        .order_by(Dispatch.notified_at, Dispatch.id)
        .options(*DETAILS)
    )
    return list(db.session.scalars(stmt))


def open_dispatches(at: datetime | None = None):
    """A select() of the open dispatches on the live pages (`on_board`), overdue first, then
    by deadline."""
    at = at or clock.now()
    overdue_first = case((Dispatch.past_deadline(at), 0), else_=1)
    return (
        select(Dispatch)
        .where(on_board(at))
        .order_by(overdue_first, Dispatch.deadline_at, Dispatch.id)
    )


def visible_open_dispatches(user, at: datetime | None = None) -> list[Dispatch]:
    """The open dispatches on the live pages (`on_board`) `user` may see (the board, the agency
    inbox): seniors and visitors needing accessibility first (`Visit.priority_expr`), then
    overdue first."""
    at = at or clock.now()
    priority_first = case((Visit.priority_expr(), 0), else_=1)
    overdue_first = case((Dispatch.past_deadline(at), 0), else_=1)
    stmt = (
        select(Dispatch)
        .outerjoin(Visit, Dispatch.visit_id == Visit.id)
        .where(on_board(at), visible_condition(user))
        .order_by(priority_first, overdue_first, Dispatch.deadline_at, Dispatch.id)
        .options(*DETAILS)
    )
    return list(db.session.scalars(stmt))


# --- Counts and the rate ------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeCounts:
    """How many dispatches of a selection count how (DESIGN "What the rate counts")."""

    on_time: int = 0
    late: int = 0
    pending: int = 0
    cancelled: int = 0
    transferred: int = 0

    @property
    def counted(self) -> int:
        """On time plus late: the dispatches the rate counts."""
        return self.on_time + self.late

    @property
    def total(self) -> int:
        """Every dispatch in the selection."""
        return self.on_time + self.late + self.pending + self.cancelled + self.transferred

    @property
    def rate(self) -> Decimal | None:
        """The on-time rate, or None when nothing is counted."""
        return on_time_rate(self.on_time, self.counted)


def outcome_counts(*conditions, at: datetime | None = None) -> OutcomeCounts:
    """Count dispatches matching `conditions` by their outcome at instant `at` (default now)."""
    at = at or clock.now()
    outcome = Dispatch.outcome_expr(at).label("outcome")
    rows = db.session.execute(
        select(outcome, func.count(Dispatch.id)).where(*conditions).group_by(outcome)
    )
    return OutcomeCounts(**{row[0]: row[1] for row in rows})


# --- Today --------------------------------------------------------------------------------


def notified_on(day: date):
    """SQL condition: notified on the Asia/Taipei calendar day `day`."""
    start, end = clock.day_bounds(day)
    return and_(Dispatch.notified_at >= start, Dispatch.notified_at < end)


@dataclass(frozen=True)
class Today:
    """The dispatches a user may see that were notified today, newest first, and their counts."""

    day: date
    dispatches: list[Dispatch]
    counts: OutcomeCounts

    @property
    def open(self) -> list[Dispatch]:
        """Those still waiting for someone to arrive."""
        return [d for d in self.dispatches if d.is_open]

    @property
    def finished(self) -> list[Dispatch]:
        """Those that ended (arrived, cancelled or transferred)."""
        return [d for d in self.dispatches if not d.is_open]


def today_for(user, at: datetime | None = None) -> Today:
    """Today (Asia/Taipei) as `user` may see it: the desk sees every agency, an agency its own."""
    at = at or clock.now()
    day = clock.local(at).date()
    condition = and_(visible_condition(user), notified_on(day))
    stmt = (
        select(Dispatch)
        .where(condition)
        .options(*DETAILS)
        .order_by(Dispatch.notified_at.desc(), Dispatch.id.desc())
    )
    return Today(day, list(db.session.scalars(stmt)), outcome_counts(condition, at=at))


def visits_on(day: date) -> list[Visit]:
    """The visits logged on the Asia/Taipei calendar day `day`, newest first."""
    start, end = clock.day_bounds(day)
    stmt = (
        select(Visit)
        .where(Visit.created_at >= start, Visit.created_at < end)
        .options(selectinload(Visit.dispatches))
        .order_by(Visit.created_at.desc())
    )
    return list(db.session.scalars(stmt))


# --- History ------------------------------------------------------------------------------


@dataclass
class DispatchFilter:
    """History filters: notified in [start, end), agency, state (or "open"), outcome."""

    start: datetime | None = None
    end: datetime | None = None
    agency: Agency | None = None
    state: str | None = None
    outcome: str | None = None

    def conditions(self, at: datetime | None = None) -> list:
        """SQL conditions for these filters (outcome judged at `at`)."""
        found = []
        if self.start is not None:
            found.append(Dispatch.notified_at >= self.start)
        if self.end is not None:
            found.append(Dispatch.notified_at < self.end)
        if self.agency is not None:
            found.append(Dispatch.agency_id == self.agency.id)
        if self.state == "open":
            found.append(Dispatch.state.in_(OPEN_VALUES))
        elif self.state:
            found.append(Dispatch.state == self.state)
        if self.outcome:
            found.append(Dispatch.outcome_expr(at or clock.now()) == self.outcome)
        return found


def search_dispatches(user, filters: DispatchFilter, at: datetime | None = None):
    """A select() of the dispatches `user` may see that match `filters`, newest first."""
    return (
        visible_dispatches(user)
        .where(*filters.conditions(at))
        .order_by(Dispatch.notified_at.desc(), Dispatch.id.desc())
    )


def corrections(dispatch: Dispatch) -> list[audit.AuditEntry]:
    """The time corrections made on a dispatch, oldest first (from the audit trail)."""
    return list(
        db.session.scalars(
            select(audit.AuditEntry)
            .where(
                audit.AuditEntry.object_type == "dispatch",
                audit.AuditEntry.object_id == str(dispatch.id),
                audit.AuditEntry.action == "dispatch.correct_time",
            )
            .order_by(audit.AuditEntry.id)
        )
    )


def transferred_from(dispatch: Dispatch) -> Dispatch | None:
    """The dispatch this one replaced by a transfer, if any."""
    return db.session.scalar(select(Dispatch).where(Dispatch.transferred_to_id == dispatch.id))
