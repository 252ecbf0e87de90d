"""The visitor at the counter (代為接待, 質化指標): the one-tap care notes a clerk records while
the visitor waits, and the visitor's one answer after the responder arrived.

- Care notes are configuration (`CARE_NOTES`: a list of `{"code", "zh", "en"}`; default
  `DEFAULT_CARE_NOTES`). A care note is a `VisitNote` whose `kind` is the code and whose text is
  the Chinese label at the time, so the timeline still reads right after the list changes.
- A rating is one `VisitRating` per visit (a unique key in the database: of two taps, one
  wins, the other is a Conflict). 不滿意 tells the chief at once through the outbox.
"""

import re
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput
from models.core.sql import insert_ignore
from models.core.text import reads_english
from models.dispatch.access import require_role
from models.dispatch.notices import enqueue_dissatisfied
from models.dispatch.tables import (
    SCORE_VALUES,
    Dispatch,
    RatingScore,
    Visit,
    VisitNote,
    VisitRating,
)
from models.users import Role

DEFAULT_CARE_NOTES = (
    {"code": "seated", "zh": "已請入座", "en": "Offered a seat"},
    {"code": "tea", "zh": "已提供茶水", "en": "Offered tea or water"},
    {"code": "listened", "zh": "已聆聽陳述", "en": "Listened to the visitor's account"},
)
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class CareNote:
    """One one-tap care note: a stable code and its label in both languages."""

    code: str
    zh: str
    en: str

    def label(self, locale: str | None) -> str:
        """The label in `locale` (English for en*, else Chinese)."""
        return self.en if reads_english(locale) else self.zh


def care_notes() -> list[CareNote]:
    """The care notes offered on the dispatch page (config `CARE_NOTES`, else the default);
    ValueError naming the problem when the configured list is malformed."""
    configured = current_app.config.get("CARE_NOTES") or DEFAULT_CARE_NOTES
    notes: list[CareNote] = []
    for item in configured:
        if not isinstance(item, dict):
            raise ValueError(f"CARE_NOTES: each entry is a dict with code, zh and en: {item!r}")
        code, zh, en = item.get("code"), item.get("zh"), item.get("en")
        if not isinstance(code, str) or not CODE_RE.match(code):
            raise ValueError(f"CARE_NOTES: code must be 1-40 of a-z 0-9 _ -: {code!r}")
        if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
            raise ValueError(f"CARE_NOTES: {code} needs a zh and an en label")
        if any(n.code == code for n in notes):
            raise ValueError(f"CARE_NOTES: code {code} appears twice")
        notes.append(CareNote(code, zh.strip()[:200], en.strip()[:200]))
    return notes


def care_note(code: str) -> CareNote | None:
    """The configured care note with this code, or None."""
    return next((n for n in care_notes() if n.code == code), None)


def note_label(note: VisitNote, locale: str | None) -> str:
    """What a note says in `locale`: a care note's configured label (its recorded Chinese text
    when the code is no longer configured), else the note's own text."""
    if note.kind:
        known = care_note(note.kind)
        if known is not None:
            return known.label(locale)
    return note.text


def visit_of(dispatch: Dispatch) -> Visit:
    """The visit a dispatch serves; a note about the visitor needs one."""
    if dispatch.visit is None:
        raise InvalidInput(_("This dispatch has no visit to add a note to."))
    return dispatch.visit


def add_care_note(visit: Visit, code: str, *, by=None, dispatch: Dispatch | None = None):
    """Record a one-tap care note (e.g. 已請入座) on a visit, timed by the server (clerks)."""
    require_role(by, Role.CLERK)
    chosen = care_note(str(code or ""))
    if chosen is None:
        raise InvalidInput(_("Unknown care note: %(code)s", code=str(code or "")[:40]))
    note = VisitNote(
        visit_id=visit.id,
        dispatch_id=dispatch.id if dispatch else None,
        at=clock.now(),
        by_id=None if by is None else by.id,
        text=chosen.zh,
        kind=chosen.code,
    )
    db.session.add(note)
    db.session.flush()
    audit.record(
        "visit.note",
        "visit",
        visit.id,
        None,
        {"note_id": note.id, "dispatch_id": note.dispatch_id, "kind": note.kind},
    )
    return note


# The visitor's wait in minutes is the one minutes rule (one decimal, half up) of the clock.
wait_minutes = clock.minutes


def rating_for(visit: Visit) -> VisitRating | None:
    """The visitor's answer for this visit, read fresh from the database (None if none)."""
    return db.session.scalar(select(VisitRating).where(VisitRating.visit_id == visit.id))


def rate_visit(visit: Visit, score: str, *, by=None) -> VisitRating:
    """Record the visitor's one answer (滿意 / 普通 / 不滿意) after the responder arrived, on
    the clerk's screen; Conflict before any arrival or when the visit was answered already.
    不滿意 tells the chief at once (outbox, same transaction)."""
    require_role(by, Role.CLERK)
    if score not in SCORE_VALUES:
        known = ", ".join(SCORE_VALUES)
        raise InvalidInput(_("Unknown answer: %(score)s", score=str(score)[:40]) + f" ({known})")
    served = visit.served_dispatch
    if served is None:
        raise Conflict(
            _(
                "Nobody has arrived for visit #%(id)d yet: the visitor answers after the arrival.",
                id=visit.id,
            )
        )
    row = insert_ignore(
        VisitRating,
        {
            "visit_id": visit.id,
            "dispatch_id": served.id,
            "score": score,
            "at": clock.now(),
            "by_id": None if by is None else by.id,
        },
        ["visit_id"],
        VisitRating.id,
    )
    if row is None:
        raise Conflict(_("The visitor has already answered for visit #%(id)d.", id=visit.id))
    rating = db.session.get(VisitRating, row[0])
    db.session.expire(visit, ["rating"])
    seconds = visit.wait_seconds
    audit.record(
        "visit.rate",
        "visit",
        visit.id,
        None,
        {"score": score, "dispatch_id": served.id, "wait_seconds": seconds},
    )
    if score == RatingScore.DISSATISFIED:
        enqueue_dissatisfied(served, visit_id=visit.id, wait_minutes=clock.minutes(seconds))
    db.session.flush()
    return rating
