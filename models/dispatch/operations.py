"""The dispatch operations: log a visit, settle it, notify an agency, acknowledge (in the inbox
or by an e-mail link), arrive, cancel, transfer, add a note, correct a recorded time.

Each takes the acting user as `by` (None: the system), checks the role, changes state with one
conditional UPDATE (so that of two concurrent clicks exactly one wins), records the audit entry
and flushes; the caller commits. New dispatches write their notices to the outbox in the same
transaction (models.dispatch.notices).
"""

import re
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from models.core import audit, clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.core.sql import guarded_update
from models.core.text import clean_text, storable
from models.dispatch.access import require_own_agency_or_clerk, require_role, visible_condition
from models.dispatch.ack_links import AckLink, LinkRefused, Refusal
from models.dispatch.ack_links import acting_user as ack_acting_user
from models.dispatch.ack_links import refusal as ack_refusal
from models.dispatch.ladder import in_effect
from models.dispatch.notices import enqueue_notified
from models.dispatch.queries import from_earlier_day
from models.dispatch.rules import deadline_after
from models.dispatch.tables import (
    OPEN_STATES,
    OPEN_VALUES,
    Dispatch,
    DispatchState,
    Visit,
    VisitKind,
    VisitNote,
    VisitStatus,
)
from models.reference import Agency, agency_by_code, sla_seconds
from models.users import Role

MAX_TEXT = 2000
MAX_ETA_MINUTES = 240
PHONE_RE = re.compile(r"^[0-9+()#*\-. ]{3,40}$")
TIME_FIELDS = ("notified_at", "acknowledged_at", "arrived_at", "ended_at")


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
            raise InvalidInput(
                _("The agency %(name)s is no longer active.", name=agency.name_zh), "agency"
            )
        return agency
    if not str(agency).strip():
        return None
    return find_agency(str(agency))


def agency_to_notify(visit: Visit, agency: Agency | str | None = None) -> Agency:
    """The agency a dispatch for `visit` goes to: `agency` as the clerk typed or chose it (a
    code, a Chinese or English name), else the one logged with the visit; InvalidInput when
    there is none, or it is unknown or no longer active."""
    chosen = _resolve_agency(agency) if agency is not None else visit.agency
    if chosen is None:
        raise InvalidInput(_("Choose the agency to notify."), "agency")
    if not chosen.active:
        raise InvalidInput(
            _("The agency %(name)s is no longer active.", name=chosen.name_zh), "agency"
        )
    return chosen


def find_agency(text: str, *, active_only: bool = True) -> Agency:
    """The agency named by a code or a Chinese or English name; InvalidInput if unknown."""
    text = storable(text.strip(), _("Agency"))
    try:
        return agency_by_code(text, active_only=active_only)
    except NotFound as exc:
        raise InvalidInput(_("Unknown agency: %(name)s", name=text), "agency") from exc


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
    if not guarded_update(dispatch, Dispatch.state.in_([s.value for s in from_states]), **values):
        raise Conflict(_state_message(dispatch))


def _close_visit_when_done(visit: Visit | None, at: datetime) -> None:
    """Close a dispatched visit once none of its dispatches is still open."""
    if visit is None:
        return
    still_open = (
        select(Dispatch.id)
        .where(Dispatch.visit_id == visit.id, Dispatch.state.in_(OPEN_VALUES))
        .exists()
    )
    guarded_update(
        visit,
        Visit.status == VisitStatus.DISPATCHED.value,
        ~still_open,
        status=VisitStatus.CLOSED.value,
        closed_at=at,
    )


def _user_id(user) -> int | None:
    return None if user is None else user.id


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
    require_role(by, Role.CLERK)
    _check_visit_kind(kind, notify_now=notify_now, settle_now=settle_now)
    name, phone = _petitioner(petitioner_name, petitioner_phone)
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
    _audit_new_visit(visit)
    if notify_now:
        notify(visit, by=by)
    elif settle_now:
        settle_visit(visit, by=by)
    return visit


def _check_visit_kind(kind: str, *, notify_now: bool, settle_now: bool) -> None:
    """InvalidInput for an unknown kind of visit, or one both dispatched and settled."""
    if notify_now and settle_now:
        raise InvalidInput(_("A visit settled at the counter is not dispatched."))
    if kind not in {k.value for k in VisitKind}:
        raise InvalidInput(
            _("Unknown kind of visit: %(kind)s", kind=kind)
            + " (inquiry, petition, application, other)"
        )


def _petitioner(name: str | None, phone: str | None) -> tuple[str, str]:
    """The petitioner's name and phone, checked (empty when not given)."""
    name = clean_text(name, _("Petitioner name"), limit=100)
    phone = clean_text(phone, _("Phone"), limit=40)
    if phone and not PHONE_RE.match(phone):
        raise InvalidInput(
            _("A phone number has digits and may have + - ( ) # and spaces."), "petitioner_phone"
        )
    return name, phone


def _audit_new_visit(visit: Visit) -> None:
    """The audit entry of a visit logged (personal data only as whether there is any)."""
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


def settle_visit(visit: Visit, note: str = "", *, by=None) -> Visit:
    """Close an open visit at the counter with no dispatch (it still counts as a visit)."""
    require_role(by, Role.CLERK)
    note = clean_text(note, _("Note"), limit=MAX_TEXT)
    at = clock.now()
    settled = guarded_update(
        visit,
        Visit.status == VisitStatus.OPEN.value,
        status=VisitStatus.SETTLED.value,
        closed_at=at,
    )
    if not settled:
        raise Conflict(_("Visit #%(id)d is no longer open.", id=visit.id))
    if note:
        _add_note(visit, note, by=by)
    audit.record("visit.settle", "visit", visit.id, {"status": "open"}, {"status": visit.status})
    return visit


def _start_dispatch(visit: Visit | None, agency: Agency, subject: str, by) -> Dispatch:
    """A new dispatch with its own clock: the SLA and the escalation ladder in force now for
    the agency recorded, the deadline stored, and the notices written to the outbox in the
    same transaction."""
    at = clock.now()
    sla = sla_seconds()
    ladder = in_effect(agency.id)
    dispatch = Dispatch(
        visit=visit,
        agency=agency,
        subject=subject,
        state=DispatchState.NOTIFIED.value,
        notified_at=at,
        notified_by_id=_user_id(by),
        sla_seconds=sla,
        deadline_at=deadline_after(at, sla),
        ladder_id=None if ladder is None else ladder.id,
    )
    db.session.add(dispatch)
    db.session.flush()
    audit.record("dispatch.notify", "dispatch", dispatch.id, None, _snapshot(dispatch))
    enqueue_notified(dispatch)
    return dispatch


def notify(visit: Visit, agency: Agency | str | None = None, *, by=None) -> Dispatch:
    """Notify an agency for an open visit: a dispatch whose 10-minute clock starts now."""
    require_role(by, Role.CLERK)
    agency_row = agency_to_notify(visit, agency)
    dispatched = guarded_update(
        visit,
        Visit.status == VisitStatus.OPEN.value,
        status=VisitStatus.DISPATCHED.value,
        agency_id=agency_row.id,
    )
    if not dispatched:
        raise Conflict(
            _("Visit #%(id)d was already dispatched or closed.", id=visit.id),
        )
    return _start_dispatch(visit, agency_row, visit.subject, by)


def acknowledge(
    dispatch: Dispatch, responder: str, eta_minutes: int | None = None, *, by=None
) -> Dispatch:
    """The agency names who is coming (by its own staff, or a clerk taking its call)."""
    require_own_agency_or_clerk(by, dispatch)
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


def acknowledge_by_link(link: AckLink, responder: str) -> Dispatch:
    """Acknowledge by a recipient's e-mail link: the same acknowledgement as the inbox's, once
    per link, while the dispatch is open and the recipient still its agency's (LinkRefused
    says why not; Conflict when someone acknowledged first). Run it as `link_actor(link)`."""
    reason = ack_refusal(link)
    if reason is not None:
        raise LinkRefused(reason, link)
    if not guarded_update(link, AckLink.used_at.is_(None), used_at=clock.now()):
        raise LinkRefused(Refusal.USED, link)
    dispatch = acknowledge(link.dispatch, responder, by=ack_acting_user(link))
    audit.record(
        "ack_link.use",
        "dispatch",
        dispatch.id,
        None,
        {"link_id": link.id, "recipient": link.recipient, "responder": dispatch.responder},
    )
    return dispatch


def arrive(dispatch: Dispatch, *, by=None) -> Dispatch:
    """The clerk confirms that the agency's responder reached the counter: arrived_at = now."""
    require_role(by, Role.CLERK)
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
    require_role(by, Role.CLERK)
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
    require_role(by, Role.CLERK)
    target = _resolve_agency(agency)
    if target is None:
        raise InvalidInput(_("Choose the agency to transfer to."), "agency")
    if target.id == dispatch.agency_id:
        raise InvalidInput(
            _("The dispatch is already with %(name)s.", name=target.name_zh), "agency"
        )
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
    require_role(by, Role.CLERK)
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
    require_role(by, Role.SUPERVISOR)
    if field not in TIME_FIELDS:
        raise InvalidInput(_("Unknown time field: %(field)s", field=field))
    if value is None or value.tzinfo is None:
        raise InvalidInput(_("Give the corrected time with its date."), field="value")
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
        raise InvalidInput(_("A recorded time cannot be in the future."), field="value")
    if value == current:
        raise InvalidInput(_("The corrected time is the same as the recorded one."), field="value")
    times = {f: getattr(dispatch, f) for f in TIME_FIELDS}
    times[field] = value
    if field == "arrived_at":
        times["ended_at"] = value
    later = [times[f] for f in TIME_FIELDS[1:] if times[f] is not None]
    if any(t < times["notified_at"] for t in later):
        raise InvalidInput(_("No time can be earlier than the notification."), field="value")
    if dispatch.visit is not None and times["notified_at"] < dispatch.visit.created_at:
        raise InvalidInput(_("The notification cannot be earlier than the visit."), field="value")
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


def settle_earlier(dispatch_ids, reason: str, *, by=None, at: datetime | None = None) -> list:
    """End of day (日結): end each chosen dispatch still open from an earlier day with nobody
    arrived recorded (`cancel`, with the reason; past its deadline it counts as late). Nothing
    changes when one of them is not (or no longer) such a dispatch: InvalidInput or Conflict
    names it."""
    require_role(by, Role.CLERK)
    reason = clean_text(reason, _("Reason"), limit=MAX_TEXT, required=True)
    ids = sorted({int(i) for i in dispatch_ids})
    if not ids:
        raise InvalidInput(_("Choose the dispatches to settle."))
    at = at or clock.now()
    found = {
        d.id: d
        for d in db.session.scalars(
            select(Dispatch)
            .where(Dispatch.id.in_(ids), visible_condition(by))
            .with_for_update(of=Dispatch)
        )
    }
    earlier = set(
        db.session.scalars(select(Dispatch.id).where(Dispatch.id.in_(ids), from_earlier_day(at)))
    )
    for dispatch_id in ids:
        dispatch = found.get(dispatch_id)
        if dispatch is None:
            raise NotFound(_("No such dispatch."))
        if dispatch_id not in earlier:
            if not dispatch.is_open:
                raise Conflict(_state_message(dispatch))
            raise InvalidInput(
                _(
                    "Dispatch #%(id)d is on today's live board: end it on its own page.",
                    id=dispatch_id,
                )
            )
    return [cancel(found[i], reason, by=by) for i in ids]
