"""Counter visits and agency dispatches: the 10-minute clock.

The outcome rules of DESIGN ("What the rate counts") live in `Dispatch.outcome_expr()`, one SQL
expression used both for a single dispatch and for the yearly roll-up.
"""

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    case,
    false,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.core import audit, clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.core.outbox import Channel, Notification, enqueue
from models.core.text import MAX_ID, clean_text, storable
from models.reference import Agency, agency_by_code, sla_seconds
from models.users import Role

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

    @property
    def has_personal_data(self) -> bool:
        """True when a petitioner's name or phone is on record (and not erased)."""
        return bool(self.petitioner_name or self.petitioner_phone)

    @property
    def open_dispatch(self) -> "Dispatch | None":
        """The dispatch still running for this visit, if any."""
        return next((d for d in self.dispatches if d.is_open), None)


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


class VisitNote(db.Model):
    """A clerk's note while looking after a visitor (代為接待), with time and author."""

    __tablename__ = "visit_note"
    __table_args__ = (Index("ix_visit_note_visit", "visit_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch.id"))
    at: Mapped[datetime]
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)

    visit: Mapped[Visit] = relationship(back_populates="note_entries")
    by: Mapped["User | None"] = relationship(foreign_keys=[by_id])


def open_dispatches(at: datetime | None = None):
    """A select() of open dispatches, overdue first, then by deadline."""
    at = at or clock.now()
    overdue_first = case((Dispatch.deadline_at < at, 0), else_=1)
    return (
        select(Dispatch)
        .where(Dispatch.state.in_([s.value for s in OPEN_STATES]))
        .order_by(overdue_first, Dispatch.deadline_at, Dispatch.id)
    )


# --- Who may see and do what ------------------------------------------------------------

_OPEN_VALUES = [s.value for s in OPEN_STATES]
MAX_TEXT = 2000
MAX_ETA_MINUTES = 240
PHONE_RE = re.compile(r"^[0-9+()#*\-. ]{3,40}$")
TIME_FIELDS = ("notified_at", "acknowledged_at", "arrived_at", "ended_at")


def _role(user) -> str | None:
    return None if user is None else user.role


def _require(user, *roles: str) -> None:
    """Raise Forbidden unless `user` has one of `roles` (None is the system: always allowed)."""
    if user is not None and user.role not in roles:
        raise Forbidden(_("Your role does not allow this."))


def can_see_dispatches(user) -> bool:
    """True for the roles that see dispatches at all (clerk, supervisor, agency staff)."""
    return _role(user) in (Role.CLERK, Role.SUPERVISOR, Role.AGENCY)


def visible_dispatches(user):
    """A select() of the dispatches `user` may see: all for clerks and supervisors, their own
    agency's for agency staff, none for anyone else."""
    stmt = select(Dispatch)
    role = _role(user)
    if role in (Role.CLERK, Role.SUPERVISOR):
        return stmt
    if role == Role.AGENCY and user.agency_id is not None:
        return stmt.where(Dispatch.agency_id == user.agency_id)
    return stmt.where(false())


def dispatch_for(user, dispatch_id: int) -> Dispatch:
    """The dispatch `user` asked for: NotFound when it does not exist or belongs to another
    agency (agency staff), Forbidden for roles that see no dispatches."""
    if not can_see_dispatches(user):
        raise Forbidden(_("Your role does not allow this."))
    if not 1 <= dispatch_id <= MAX_ID:
        raise NotFound(_("No such dispatch."))
    dispatch = db.session.scalar(visible_dispatches(user).where(Dispatch.id == dispatch_id))
    if dispatch is None:
        raise NotFound(_("No such dispatch."))
    return dispatch


def visit_for(user, visit_id: int) -> Visit:
    """A visit for the counter staff (clerks and supervisors); NotFound when there is none."""
    _require(user, Role.CLERK, Role.SUPERVISOR)
    visit = db.session.get(Visit, visit_id) if 1 <= visit_id <= MAX_ID else None
    if visit is None:
        raise NotFound(_("No such visit."))
    return visit


def record_personal_data_view(visit: Visit) -> None:
    """Audit that the signed-in user saw a petitioner's personal data in full."""
    if visit.has_personal_data and visit.personal_data_erased_at is None:
        audit.record("visit.view_personal_data", "visit", visit.id)


# --- Helpers -----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _snapshot(dispatch: Dispatch) -> dict:
    """The audit view of a dispatch (no personal data)."""
    return {
        "agency": dispatch.agency.code if dispatch.agency else None,
        "state": dispatch.state,
        "notified_at": _iso(dispatch.notified_at),
        "sla_seconds": dispatch.sla_seconds,
        "deadline_at": _iso(dispatch.deadline_at),
        "acknowledged_at": _iso(dispatch.acknowledged_at),
        "responder": dispatch.responder,
        "eta_minutes": dispatch.eta_minutes,
        "arrived_at": _iso(dispatch.arrived_at),
        "ended_at": _iso(dispatch.ended_at),
        "end_reason": dispatch.end_reason,
        "transferred_to_id": dispatch.transferred_to_id,
    }


def _resolve_agency(agency: Agency | str | None) -> Agency | None:
    """An Agency from an Agency, a code or a Chinese or English name; InvalidInput if unknown."""
    if agency is None or isinstance(agency, Agency):
        if agency is not None and not agency.active:
            raise InvalidInput(_("The agency %(name)s is no longer active.", name=agency.name_zh))
        return agency
    if not str(agency).strip():
        return None
    return find_agency(str(agency))


def find_agency(text: str, *, active_only: bool = True) -> Agency:
    """The agency named by a code or a Chinese or English name; InvalidInput if unknown."""
    text = storable(text.strip(), _("Agency"))
    try:
        return agency_by_code(text, active_only=active_only)
    except NotFound as exc:
        raise InvalidInput(_("Unknown agency: %(name)s", name=text)) from exc


def _hhmmss(value: datetime | None) -> str:
    return "—" if value is None else clock.local(value).strftime("%H:%M:%S")


def _state_message(dispatch: Dispatch) -> str:
    """Why a move on this dispatch is no longer possible, in the users' words."""
    if dispatch.state == DispatchState.ARRIVED:
        return _(
            "Dispatch #%(id)d is already closed: the responder arrived at %(time)s.",
            id=dispatch.id,
            time=_hhmmss(dispatch.arrived_at),
        )
    if dispatch.state == DispatchState.CANCELLED:
        return _(
            "Dispatch #%(id)d was cancelled at %(time)s.",
            id=dispatch.id,
            time=_hhmmss(dispatch.ended_at),
        )
    if dispatch.state == DispatchState.TRANSFERRED:
        return _(
            "Dispatch #%(id)d was transferred to another agency at %(time)s.",
            id=dispatch.id,
            time=_hhmmss(dispatch.ended_at),
        )
    if dispatch.state == DispatchState.ACKNOWLEDGED:
        return _(
            "Dispatch #%(id)d was already acknowledged at %(time)s (responder: %(name)s).",
            id=dispatch.id,
            time=_hhmmss(dispatch.acknowledged_at),
            name=dispatch.responder or "—",
        )
    return _("Dispatch #%(id)d changed in the meantime.", id=dispatch.id)


def _move(dispatch: Dispatch, from_states, **values) -> None:
    """Move a dispatch with one conditional UPDATE on its current state; Conflict if another
    request moved it first (exactly one of two concurrent clicks wins)."""
    result = db.session.execute(
        update(Dispatch)
        .where(Dispatch.id == dispatch.id, Dispatch.state.in_([s.value for s in from_states]))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(dispatch)
    if result.rowcount != 1:
        raise Conflict(_state_message(dispatch))


def _close_visit_when_done(visit: Visit | None, at: datetime) -> None:
    """Close a dispatched visit once none of its dispatches is still open."""
    if visit is None:
        return
    still_open = (
        select(Dispatch.id)
        .where(Dispatch.visit_id == visit.id, Dispatch.state.in_(_OPEN_VALUES))
        .exists()
    )
    db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.DISPATCHED.value, ~still_open)
        .values(status=VisitStatus.CLOSED.value, closed_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(visit)


def _user_id(user) -> int | None:
    return None if user is None else user.id


# --- Operations --------------------------------------------------------------------------


def log_visit(
    *,
    kind: str,
    subject: str,
    summary: str = "",
    agency: Agency | str | None = None,
    petitioner_name: str | None = None,
    petitioner_phone: str | None = None,
    is_senior: bool = False,
    needs_accessibility: bool = False,
    notes: str = "",
    notify_now: bool = False,
    settle_now: bool = False,
    by=None,
) -> Visit:
    """Log a walk-in visitor: left open, or at once notified to `agency` (`notify_now`) or
    settled at the counter (`settle_now`)."""
    _require(by, Role.CLERK)
    if notify_now and settle_now:
        raise InvalidInput(_("A visit settled at the counter is not dispatched."))
    if kind not in {k.value for k in VisitKind}:
        raise InvalidInput(
            _("Unknown kind of visit: %(kind)s", kind=kind)
            + " (inquiry, petition, application, other)"
        )
    name = clean_text(petitioner_name, _("Petitioner name"), limit=100)
    phone = clean_text(petitioner_phone, _("Phone"), limit=40)
    if phone and not PHONE_RE.match(phone):
        raise InvalidInput(_("A phone number has digits and may have + - ( ) # and spaces."))
    visit = Visit(
        kind=kind,
        subject=clean_text(subject, _("Subject"), limit=200, required=True),
        summary=clean_text(summary, _("Summary"), limit=MAX_TEXT),
        agency=_resolve_agency(agency),
        petitioner_name=name or None,
        petitioner_phone=phone or None,
        is_senior=bool(is_senior),
        needs_accessibility=bool(needs_accessibility),
        notes=clean_text(notes, _("Notes"), limit=MAX_TEXT),
        status=VisitStatus.OPEN.value,
        created_at=clock.now(),
        created_by_id=_user_id(by),
    )
    db.session.add(visit)
    db.session.flush()
    audit.record(
        "visit.create",
        "visit",
        visit.id,
        None,
        {
            "kind": visit.kind,
            "subject": visit.subject,
            "agency": visit.agency.code if visit.agency else None,
            "personal_data": visit.has_personal_data,
            "is_senior": visit.is_senior,
            "needs_accessibility": visit.needs_accessibility,
        },
    )
    if notify_now:
        notify(visit, by=by)
    elif settle_now:
        settle_visit(visit, by=by)
    return visit


def settle_visit(visit: Visit, note: str = "", *, by=None) -> Visit:
    """Close an open visit at the counter with no dispatch (it still counts as a visit)."""
    _require(by, Role.CLERK)
    note = clean_text(note, _("Note"), limit=MAX_TEXT)
    at = clock.now()
    result = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.OPEN.value)
        .values(status=VisitStatus.SETTLED.value, closed_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(visit)
    if result.rowcount != 1:
        raise Conflict(_("Visit #%(id)d is no longer open.", id=visit.id))
    if note:
        _add_note(visit, note, by=by)
    audit.record("visit.settle", "visit", visit.id, {"status": "open"}, {"status": visit.status})
    return visit


def deadline_after(notified_at: datetime, sla_seconds: int) -> datetime:
    """The deadline rule: a dispatch must be met `sla_seconds` after it was notified."""
    return notified_at + timedelta(seconds=sla_seconds)


def _start_dispatch(visit: Visit | None, agency: Agency, subject: str, by) -> Dispatch:
    """A new dispatch with its own clock: the SLA in force now snapshotted, the deadline
    stored, and the notices written to the outbox in the same transaction."""
    at = clock.now()
    sla = sla_seconds()
    dispatch = Dispatch(
        visit=visit,
        agency=agency,
        subject=subject,
        state=DispatchState.NOTIFIED.value,
        notified_at=at,
        notified_by_id=_user_id(by),
        sla_seconds=sla,
        deadline_at=deadline_after(at, sla),
    )
    db.session.add(dispatch)
    db.session.flush()
    audit.record("dispatch.notify", "dispatch", dispatch.id, None, _snapshot(dispatch))
    enqueue_notified(dispatch)
    return dispatch


def notice_payload(dispatch: Dispatch) -> dict:
    """What a notice about a dispatch carries (no petitioner data: e-mail and webhooks leave
    the building)."""
    visit = dispatch.visit
    return {
        "dispatch_id": dispatch.id,
        "agency": dispatch.agency.code,
        "agency_name": dispatch.agency.name_zh,
        "subject": dispatch.subject,
        "kind": visit.kind if visit else None,
        "is_senior": bool(visit and visit.is_senior),
        "needs_accessibility": bool(visit and visit.needs_accessibility),
        "notified_at": _iso(dispatch.notified_at),
        "deadline_at": _iso(dispatch.deadline_at),
        "sla_seconds": dispatch.sla_seconds,
        "path": f"/agency/dispatches/{dispatch.id}",
    }


def enqueue_notified(dispatch: Dispatch) -> list[Notification]:
    """Write the notices of a new dispatch: in-app to each active user of the agency, e-mail
    to each of its addresses, and its webhook (event `dispatch:<id>:notified`)."""
    from models.users import User

    key, kind = f"dispatch:{dispatch.id}:notified", "dispatch.notified"
    payload = notice_payload(dispatch)
    notices = []
    users = db.session.scalars(
        select(User)
        .where(User.agency_id == dispatch.agency_id, User.role == Role.AGENCY, User.active)
        .order_by(User.id)
    )
    for user in users:
        notices.append(
            enqueue(
                key,
                kind,
                Channel.IN_APP,
                f"user:{user.id}",
                payload,
                user_id=user.id,
                dispatch_id=dispatch.id,
            )
        )
    for address in dispatch.agency.email_list:
        notices.append(enqueue(key, kind, Channel.EMAIL, address, payload, dispatch_id=dispatch.id))
    if dispatch.agency.webhook_url:
        notices.append(
            enqueue(
                key,
                kind,
                Channel.WEBHOOK,
                dispatch.agency.webhook_url,
                payload,
                dispatch_id=dispatch.id,
            )
        )
    return [n for n in notices if n is not None]


def notify(visit: Visit, agency: Agency | str | None = None, *, by=None) -> Dispatch:
    """Notify an agency for an open visit: a dispatch whose 10-minute clock starts now."""
    _require(by, Role.CLERK)
    agency_row = _resolve_agency(agency) if agency is not None else visit.agency
    if agency_row is None:
        raise InvalidInput(_("Choose the agency to notify."))
    if not agency_row.active:
        raise InvalidInput(_("The agency %(name)s is no longer active.", name=agency_row.name_zh))
    result = db.session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.OPEN.value)
        .values(status=VisitStatus.DISPATCHED.value, agency_id=agency_row.id)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(visit)
    if result.rowcount != 1:
        raise Conflict(
            _("Visit #%(id)d was already dispatched or closed.", id=visit.id),
        )
    return _start_dispatch(visit, agency_row, visit.subject, by)


def acknowledge(
    dispatch: Dispatch, responder: str, eta_minutes: int | None = None, *, by=None
) -> Dispatch:
    """The agency names who is coming (by its own staff, or a clerk taking its call)."""
    if by is not None:
        if by.role == Role.AGENCY:
            if by.agency_id != dispatch.agency_id:
                raise NotFound(_("No such dispatch."))
        else:
            _require(by, Role.CLERK)
    responder = clean_text(responder, _("Responder"), limit=100, required=True)
    if eta_minutes is not None and not 0 <= eta_minutes <= MAX_ETA_MINUTES:
        raise InvalidInput(
            _("The ETA is between 0 and %(max)d minutes.", max=MAX_ETA_MINUTES),
        )
    before = _snapshot(dispatch)
    _move(
        dispatch,
        (DispatchState.NOTIFIED,),
        state=DispatchState.ACKNOWLEDGED.value,
        acknowledged_at=clock.now(),
        acknowledged_by_id=_user_id(by),
        responder=responder,
        eta_minutes=eta_minutes,
    )
    audit.record("dispatch.acknowledge", "dispatch", dispatch.id, before, _snapshot(dispatch))
    return dispatch


def arrive(dispatch: Dispatch, *, by=None) -> Dispatch:
    """The clerk confirms that the agency's responder reached the counter: arrived_at = now."""
    _require(by, Role.CLERK)
    at = clock.now()
    before = _snapshot(dispatch)
    _move(
        dispatch,
        OPEN_STATES,
        state=DispatchState.ARRIVED.value,
        arrived_at=at,
        arrived_by_id=_user_id(by),
        ended_at=at,
        ended_by_id=_user_id(by),
    )
    audit.record("dispatch.arrive", "dispatch", dispatch.id, before, _snapshot(dispatch))
    _close_visit_when_done(dispatch.visit, at)
    return dispatch


def cancel(dispatch: Dispatch, reason: str, *, by=None) -> Dispatch:
    """End an open dispatch with nobody arrived (the visitor left, settled otherwise...)."""
    _require(by, Role.CLERK)
    reason = clean_text(reason, _("Reason"), limit=MAX_TEXT, required=True)
    at = clock.now()
    before = _snapshot(dispatch)
    _move(
        dispatch,
        OPEN_STATES,
        state=DispatchState.CANCELLED.value,
        ended_at=at,
        ended_by_id=_user_id(by),
        end_reason=reason,
    )
    audit.record("dispatch.cancel", "dispatch", dispatch.id, before, _snapshot(dispatch))
    _close_visit_when_done(dispatch.visit, at)
    return dispatch


def transfer(dispatch: Dispatch, agency: Agency | str, reason: str = "", *, by=None) -> Dispatch:
    """Wrong agency: end this dispatch as transferred and start a new one, with its own clock,
    for `agency`. Returns the new dispatch."""
    _require(by, Role.CLERK)
    target = _resolve_agency(agency)
    if target is None:
        raise InvalidInput(_("Choose the agency to transfer to."))
    if target.id == dispatch.agency_id:
        raise InvalidInput(_("The dispatch is already with %(name)s.", name=target.name_zh))
    reason = clean_text(reason, _("Reason"), limit=MAX_TEXT)
    at = clock.now()
    before = _snapshot(dispatch)
    _move(
        dispatch,
        OPEN_STATES,
        state=DispatchState.TRANSFERRED.value,
        ended_at=at,
        ended_by_id=_user_id(by),
        end_reason=reason or None,
    )
    successor = _start_dispatch(dispatch.visit, target, dispatch.subject, by)
    dispatch.transferred_to_id = successor.id
    if dispatch.visit is not None:
        dispatch.visit.agency_id = target.id
    db.session.flush()
    audit.record("dispatch.transfer", "dispatch", dispatch.id, before, _snapshot(dispatch))
    return successor


def _add_note(visit: Visit, text: str, *, by=None, dispatch: Dispatch | None = None) -> VisitNote:
    note = VisitNote(
        visit_id=visit.id,
        dispatch_id=dispatch.id if dispatch else None,
        at=clock.now(),
        by_id=_user_id(by),
        text=text,
    )
    db.session.add(note)
    db.session.flush()
    return note


def add_note(visit: Visit, text: str, *, by=None, dispatch: Dispatch | None = None) -> VisitNote:
    """Add a clerk's note to a visit (代為接待: looking after the visitor while they wait)."""
    _require(by, Role.CLERK)
    text = clean_text(text, _("Note"), limit=MAX_TEXT, required=True)
    note = _add_note(visit, text, by=by, dispatch=dispatch)
    audit.record(
        "visit.note",
        "visit",
        visit.id,
        None,
        {"note_id": note.id, "dispatch_id": note.dispatch_id},
    )
    return note


def correct_time(dispatch: Dispatch, field: str, value: datetime, reason: str, *, by) -> Dispatch:
    """A supervisor corrects a recorded time, with a reason; the audit trail keeps both values.

    Correcting `notified_at` moves the deadline with it (same SLA snapshot); correcting the
    arrival of an arrived dispatch also moves its end."""
    if by is None:
        raise Forbidden(_("Only a supervisor may correct a recorded time."))
    _require(by, Role.SUPERVISOR)
    if field not in TIME_FIELDS:
        raise InvalidInput(_("Unknown time field: %(field)s", field=field))
    if value is None or value.tzinfo is None:
        raise InvalidInput(_("Give the corrected time with its date."))
    reason = clean_text(reason, _("Reason"), limit=MAX_TEXT, required=True)
    # Lock the row until commit (SELECT ... FOR UPDATE), then read it fresh.
    db.session.execute(select(Dispatch.id).where(Dispatch.id == dispatch.id).with_for_update())
    db.session.refresh(dispatch)
    current = getattr(dispatch, field)
    if current is None:
        raise InvalidInput(_("This time is not recorded on the dispatch; nothing to correct."))
    if field == "ended_at" and dispatch.state == DispatchState.ARRIVED:
        field, current = "arrived_at", dispatch.arrived_at
    if value > clock.now():
        raise InvalidInput(_("A recorded time cannot be in the future."))
    if value == current:
        raise InvalidInput(_("The corrected time is the same as the recorded one."))
    times = {f: getattr(dispatch, f) for f in TIME_FIELDS}
    times[field] = value
    if field == "arrived_at":
        times["ended_at"] = value
    later = [times[f] for f in TIME_FIELDS[1:] if times[f] is not None]
    if any(t < times["notified_at"] for t in later):
        raise InvalidInput(_("No time can be earlier than the notification."))
    if dispatch.visit is not None and times["notified_at"] < dispatch.visit.created_at:
        raise InvalidInput(_("The notification cannot be earlier than the visit."))
    before = {f: _iso(getattr(dispatch, f)) for f in TIME_FIELDS}
    before["deadline_at"] = _iso(dispatch.deadline_at)
    changes = {field: value}
    if field == "arrived_at":
        changes["ended_at"] = value
    if field == "notified_at":
        changes["deadline_at"] = deadline_after(value, dispatch.sla_seconds)
    for name, new in changes.items():
        setattr(dispatch, name, new)
    db.session.flush()
    after = {f: _iso(getattr(dispatch, f)) for f in TIME_FIELDS}
    after["deadline_at"] = _iso(dispatch.deadline_at)
    after["reason"] = reason
    after["field"] = field
    audit.record("dispatch.correct_time", "dispatch", dispatch.id, before, after)
    return dispatch


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


# --- Figures -----------------------------------------------------------------------------


def on_time_rate(on_time: int, counted: int) -> Decimal | None:
    """On time ÷ counted × 100 in Decimal, rounded half up to 2 places; None when nothing
    is counted (never 100%)."""
    if counted <= 0:
        return None
    # Exact integer arithmetic: hundredths of a percent, then half up on the remainder.
    hundredths, remainder = divmod(on_time * 10_000, counted)
    if 2 * remainder >= counted:
        hundredths += 1
    return Decimal(hundredths).scaleb(-2)


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
            found.append(Dispatch.state.in_(_OPEN_VALUES))
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


def visible_condition(user):
    """The visibility rule of `visible_dispatches` as a bare condition (for counts)."""
    role = _role(user)
    if role in (Role.CLERK, Role.SUPERVISOR):
        return true()
    if role == Role.AGENCY and user.agency_id is not None:
        return Dispatch.agency_id == user.agency_id
    return false()


__all__ = [
    "Dispatch",
    "DispatchFilter",
    "DispatchState",
    "OPEN_STATES",
    "Outcome",
    "OutcomeCounts",
    "Visit",
    "VisitKind",
    "VisitNote",
    "VisitStatus",
    "acknowledge",
    "add_note",
    "arrive",
    "cancel",
    "correct_time",
    "dispatch_for",
    "log_visit",
    "notify",
    "on_time_rate",
    "open_dispatches",
    "outcome_counts",
    "search_dispatches",
    "settle_visit",
    "transfer",
    "visible_dispatches",
]
