"""Names of kinds, states and outcomes in the users' words (both languages)."""

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.core import audit, clock
from models.dispatch import (
    Dispatch,
    DispatchState,
    RatingScore,
    VisitKind,
    VisitStatus,
    note_label,
    used_link,
)
from models.dispatch import corrections as dispatch_corrections
from models.dispatch import transferred_from as dispatch_transferred_from
from webapp.i18n import current_locale

KIND_LABELS = {
    VisitKind.INQUIRY: _l("Inquiry"),
    VisitKind.PETITION: _l("Petition"),
    VisitKind.APPLICATION: _l("Application"),
    VisitKind.OTHER: _l("Other"),
}

VISIT_STATUS_LABELS = {
    VisitStatus.OPEN: _l("Open"),
    VisitStatus.SETTLED: _l("Settled at the counter"),
    VisitStatus.DISPATCHED: _l("Agency notified"),
    VisitStatus.CLOSED: _l("Closed"),
}

STATE_LABELS = {
    DispatchState.NOTIFIED: _l("Notified"),
    DispatchState.ACKNOWLEDGED: _l("Acknowledged"),
    DispatchState.ARRIVED: _l("Arrived"),
    DispatchState.CANCELLED: _l("Cancelled"),
    DispatchState.TRANSFERRED: _l("Transferred"),
}

SCORE_LABELS = {
    RatingScore.SATISFIED: _l("Satisfied"),
    RatingScore.NEUTRAL: _l("Neutral"),
    RatingScore.DISSATISFIED: _l("Dissatisfied"),
}

TIME_FIELD_LABELS = {
    "notified_at": _l("Notified at"),
    "acknowledged_at": _l("Acknowledged at"),
    "arrived_at": _l("Arrived at"),
    "ended_at": _l("Ended at"),
}


def duration(seconds: float | None) -> str:
    """A duration as minutes and seconds: 9分05秒 / 9 min 05 s."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    sign = "−" if seconds < 0 else ""
    minutes, rest = divmod(abs(seconds), 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return sign + _("%(h)d h %(m)02d min", h=hours, m=minutes)
    return sign + _("%(m)d min %(s)02d s", m=minutes, s=rest)


def between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end`, or None when either is missing."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def clock_text(seconds: float) -> str:
    """A countdown as mm:ss (hours folded into minutes)."""
    seconds = int(abs(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


# The warning colour: WARN_SECONDS or less left. The live pages get it from the server
# (`data-warn-seconds`, read by live.js), the board's legend words it in minutes.
WARN_SECONDS = 180


def urgency(dispatch: Dispatch, at: datetime | None = None) -> str:
    """ok (more than WARN_SECONDS left), warn (WARN_SECONDS or less), overdue, or ended."""
    if not dispatch.is_open:
        return "ended"
    at = at or clock.now()
    if dispatch.is_overdue(at):
        return "overdue"
    return "warn" if (dispatch.deadline_at - at).total_seconds() <= WARN_SECONDS else "ok"


def timeline(dispatch: Dispatch, *, with_notes: bool = True) -> list[dict]:
    """Every step of a dispatch in order: who did it, when, and how long after the notice
    (the clerk's notes only for the counter staff)."""
    events = _Timeline(dispatch)
    _add_start(events, dispatch)
    _add_acknowledgement(events, dispatch)
    if dispatch.visit is not None and with_notes:
        _add_visitor_steps(events, dispatch)
    _add_end(events, dispatch)
    events.sort(key=lambda e: (e["at"], e["kind"] == "end"))
    return list(events)


class _Timeline(list):
    """A dispatch's steps as the timeline is built, each with how long after the notice."""

    def __init__(self, dispatch: Dispatch):
        super().__init__()
        self.dispatch = dispatch

    def add(self, at, title, who=None, detail=None, kind="step") -> None:
        """One step: when, what, who, a detail and its kind (step, link, care, note, rating,
        end)."""
        self.append(
            {
                "at": at,
                "title": title,
                "who": who,
                "detail": detail,
                "kind": kind,
                "since": between(self.dispatch.notified_at, at),
            }
        )


def _add_start(events: _Timeline, dispatch: Dispatch) -> None:
    """The visit logged (or the dispatch this one was transferred from), then the notice."""
    visit = dispatch.visit
    previous = dispatch_transferred_from(dispatch)
    if visit is not None and previous is None:
        events.add(
            visit.created_at, _("Visit logged"), visit.created_by.name if visit.created_by else None
        )
    if previous is not None:
        events.add(
            previous.ended_at,
            _(
                "Transferred from %(agency)s (dispatch #%(id)d)",
                agency=previous.agency.name_zh,
                id=previous.id,
            ),
            kind="link",
        )
    events.add(
        dispatch.notified_at,
        _(
            "%(agency)s notified (time limit %(limit)s)",
            agency=dispatch.agency.name_zh,
            limit=duration(dispatch.sla_seconds),
        ),
        dispatch.notified_by.name if dispatch.notified_by else None,
    )


def _add_acknowledgement(events: _Timeline, dispatch: Dispatch) -> None:
    """The acknowledgement, with the responder and the ETA (by e-mail link: its address)."""
    if not dispatch.acknowledged_at:
        return
    detail = _("Responder: %(name)s", name=dispatch.responder or "—")
    if dispatch.eta_minutes is not None:
        detail += " · " + _("ETA %(n)d min", n=dispatch.eta_minutes)
    who = dispatch.acknowledged_by.name if dispatch.acknowledged_by else None
    link = used_link(dispatch)
    if link is not None:
        who = _("e-mail link of %(address)s", address=link.recipient)
    events.add(dispatch.acknowledged_at, _("Acknowledged"), who, detail)


def _add_visitor_steps(events: _Timeline, dispatch: Dispatch) -> None:
    """The clerk's notes and care about the visitor, and the visitor's answer."""
    visit = dispatch.visit
    locale = current_locale()
    for note in visit.note_entries:
        if note.dispatch_id in (None, dispatch.id):
            title = _("Looking after the visitor") if note.kind else _("Note")
            who, kind = (note.by.name if note.by else None), "care" if note.kind else "note"
            events.add(note.at, title, who, note_label(note, locale), kind)
    rating = visit.rating
    if rating is not None and rating.dispatch_id == dispatch.id:
        answer = SCORE_LABELS.get(rating.score, rating.score)
        events.add(rating.at, _("The visitor answered: %(answer)s", answer=answer), kind="rating")


def _add_end(events: _Timeline, dispatch: Dispatch) -> None:
    """How the dispatch ended: arrived, cancelled or transferred (nothing while open)."""
    ended_by = dispatch.ended_by.name if dispatch.ended_by else None
    if dispatch.state == DispatchState.ARRIVED:
        events.add(
            dispatch.arrived_at,
            _("Responder arrived"),
            dispatch.arrived_by.name if dispatch.arrived_by else ended_by,
            kind="end",
        )
    elif dispatch.state == DispatchState.CANCELLED:
        events.add(dispatch.ended_at, _("Cancelled"), ended_by, dispatch.end_reason, "end")
    elif dispatch.state == DispatchState.TRANSFERRED:
        events.add(dispatch.ended_at, _("Transferred"), ended_by, dispatch.end_reason, "end")


def correction_rows(dispatch: Dispatch) -> list[audit.AuditEntry]:
    """The supervisor's time corrections on a dispatch (from the audit trail)."""
    return dispatch_corrections(dispatch)
