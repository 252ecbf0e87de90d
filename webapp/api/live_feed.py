"""The live feed (`GET /dispatches/open`), polled every 2 s by the live board and the agency
inbox: its body built from plain rows, its ETag, and the 304 for an unchanged list (from the
answer kept per process, webapp.api.live_kept, or from the rows as read)."""

import hashlib
from collections.abc import Callable
from datetime import datetime

from flask import current_app, request

from models.core import clock, db
from models.core.text import reads_english
from models.dispatch import LiveRows, Outcome, inbox_seen_due, live_rows, record_inbox_seen
from models.users import Role, User
from webapp.api.live_kept import KeptAnswer, change_count, keep_answer, kept_answer
from webapp.extensions import login_manager
from webapp.i18n import current_locale
from webapp.pool_ping import poll_connection
from webapp.security import reload_viewer, session_locked

# What a locked inbox's feed tells of each dispatch: enough to alert, nothing personal.
LOCKED_FIELDS = (
    "id",
    "agency",
    "agency_name",
    "state",
    "notified_at",
    "deadline_at",
    "acknowledged_at",
    "remaining_seconds",
)


# The live feed is built from `live_rows`' plain rows (no ORM objects, no schema dump: a
# poll's cost is mostly this). `live_item` gives exactly what `dispatch_data` gives for an open
# dispatch plus `inbox_open`; a test pins that the two agree and that the body is LiveSchema's.
LIVE_ETAG_VERSION = "live-1"  # change it when the body's shape changes


def _taipei_iso(value: datetime | None) -> str | None:
    return None if value is None else clock.local(value).isoformat()


def _wait_seconds(created_at: datetime | None, served_at: datetime | None) -> int | None:
    """`Visit.wait_seconds` from the visit's logging and its latest arrival."""
    if created_at is None or served_at is None:
        return None
    return clock.whole_seconds(served_at - created_at)


def live_item(row, at: datetime, locale: str, inbox_open: bool) -> dict:
    """The API view of one open dispatch of the live feed (a `live_rows` row) at `at`."""
    overdue = clock.is_past(row.deadline_at, at)
    return {
        "id": row.id,
        "visit_id": row.visit_id,
        "agency": row.agency_code,
        "agency_name": row.agency_name_en if reads_english(locale) else row.agency_name_zh,
        "agency_extension": row.agency_extension,
        "subject": row.subject,
        "state": row.state,
        "kind": row.visit_kind,
        "is_senior": bool(row.is_senior),
        "needs_accessibility": bool(row.needs_accessibility),
        "notified_at": _taipei_iso(row.notified_at),
        "sla_seconds": row.sla_seconds,
        "deadline_at": _taipei_iso(row.deadline_at),
        "acknowledged_at": _taipei_iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by_name,
        "responder": row.responder,
        "eta_minutes": row.eta_minutes,
        "arrived_at": _taipei_iso(row.arrived_at),
        "ended_at": _taipei_iso(row.ended_at),
        "end_reason": row.end_reason,
        "transferred_to_id": row.transferred_to_id,
        "overdue": overdue,
        "on_time": False if overdue else None,
        "outcome": Outcome.LATE.value if overdue else Outcome.PENDING.value,
        "remaining_seconds": int((row.deadline_at - at).total_seconds()),
        "visit_created_at": _taipei_iso(row.visit_created_at),
        "visitor_wait_seconds": _wait_seconds(row.visit_created_at, row.served_arrived_at),
        "inbox_open": inbox_open,
    }


def live_body(
    feed: LiveRows, at: datetime, *, locale: str, locked: bool, own_agency_id: int | None
) -> dict:
    """The live feed's body (LiveSchema, dumped): a locked inbox gets LOCKED_FIELDS only."""
    items = [
        live_item(r, at, locale, bool(r.inbox_open) or r.agency_id == own_agency_id)
        for r in feed.rows
    ]
    body = {"server_time": _taipei_iso(at), "earlier_open": feed.earlier}
    if locked:
        body["locked"] = True
        body["dispatches"] = [{key: d[key] for key in LOCKED_FIELDS} for d in items]
    else:
        body["dispatches"] = items
    return body


def live_etag(user, feed: LiveRows, *, locked: bool, locale: str, inbox: bool) -> str:
    """The live feed's validator for this caller: who sees what (all, or one agency), locked
    or not, the language, and every row as read (with whether it is overdue now and whether
    its agency's inbox is open); only `server_time` and `remaining_seconds` may differ between
    two bodies with the same tag (they follow the clock)."""
    scope = user.agency_id if user.role == Role.AGENCY else "all"
    own = user.agency_id if inbox else None
    rows = [_shown(r) + (r.agency_id == own,) for r in feed.rows]
    key = repr((LIVE_ETAG_VERSION, scope, locked, locale[:2], feed.earlier, rows))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _shown(row) -> tuple:
    """A live row's columns that the viewer sees: after `earlier` and `viewer_valid`, before
    when the inboxes were last seen (those move every few seconds)."""
    return tuple(row)[2 : row._fields.index("inbox_seen_at")]


def live_answer(viewer: Callable[[], User], inbox: bool):
    """The live feed's answer to the caller (`viewer()`: the acting user, refused unless their
    role sees dispatches), `inbox` when the agency inbox polls: a 304 when the list is the one
    of the ETag in If-None-Match, else the body (LiveSchema) with its ETag."""
    user = viewer()
    at = clock.now()
    locked, locale = session_locked(), current_locale()
    count = change_count()  # read before the statement: a change during it makes it stale
    unchanged = _kept_unchanged(user, inbox, locked, locale, count, at)
    if unchanged is not None:
        return unchanged
    feed = _feed(user, at, inbox)
    if not feed.viewer_valid:  # the user's row changed since the viewer was kept: read it again
        if reload_viewer() is None:
            return login_manager.unauthorized()  # as for any session that lost its user
        user = viewer()
        feed = _feed(user, at, inbox)
    own = _own_inbox(user, inbox)
    own_seen_at = _note_inbox_if_due(user, own is not None, feed.own_seen_at, at)
    tag = live_etag(user, feed, locked=locked, locale=locale, inbox=own is not None)
    if count is not None and feed.viewer_valid:
        kept = KeptAnswer(tag, count, feed.holds_until(at), own_seen_at)
        keep_answer(_scope(user, inbox, locked, locale), user.id, kept, at)
    if request.if_none_match.contains_weak(tag):
        return _not_modified(tag)
    response = current_app.json.response(
        live_body(feed, at, locale=locale, locked=locked, own_agency_id=own)
    )
    response.set_etag(tag, weak=True)
    return response


def _kept_unchanged(user, inbox: bool, locked: bool, locale: str, count, at: datetime):
    """A 304 from the answer kept for the caller's scope, when it still holds and is the one
    the caller has (its inbox still noted as seen); else None."""
    kept = kept_answer(_scope(user, inbox, locked, locale), user.id, count, at)
    if kept is None or not request.if_none_match.contains_weak(kept.etag):
        return None
    kept.own_seen_at = _note_inbox_if_due(user, inbox, kept.own_seen_at, at)
    return _not_modified(kept.etag)


def _scope(user, inbox: bool, locked: bool, locale: str) -> tuple:
    """What a live answer depends on besides the rows: whose list, inbox or board, locked or
    not, the language (the key of a kept answer)."""
    return (user.role, user.agency_id, _own_inbox(user, inbox), locked, locale[:2])


def _note_inbox_if_due(user, inbox: bool, seen_at: datetime | None, at: datetime):
    """Note an agency's inbox as seen when due; returns when it was last noted."""
    if _own_inbox(user, inbox) is None or not inbox_seen_due(seen_at, at):
        return seen_at
    poll_connection()
    record_inbox_seen(user.agency_id, at)
    db.session.commit()
    return at


def _not_modified(tag: str):
    response = current_app.response_class(status=304)
    response.set_etag(tag, weak=True)
    return response


def _feed(user, at: datetime, inbox: bool) -> LiveRows:
    poll_connection()
    return live_rows(user, at, own_agency_id=_own_inbox(user, inbox))


def _own_inbox(user, inbox: bool) -> int | None:
    """The agency whose inbox polls (`?inbox=1` by its staff), else None."""
    return user.agency_id if inbox and user.role == Role.AGENCY else None
