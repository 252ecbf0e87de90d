"""One poll of the live feed (the board and the agency inbox): `live_rows`.

What the live pages list is `queries.on_board` (today's open dispatches and any whose clock
still runs); the earlier ones are only counted (`queries.earlier_count`, capped) and settled on
the end-of-day page (日結, `queries.earlier_open`).

`live_rows` reads what one poll needs in ONE statement (the dispatch, its agency, its visit's
flags, who acknowledged, the visitor's wait, whether the agency's inbox is open, the earlier
count, and whether the viewer is still the user the poll was answered for) as plain rows: no
ORM objects are built for a poll, and the poll needs no statement of its own to load the
signed-in user (`users.SessionViewer`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, exists, func, select
from sqlalchemy.orm import aliased

from models.core import clock, db
from models.dispatch.access import visible_condition
from models.dispatch.presence import INBOX_OPEN_SECONDS
from models.dispatch.queries import day_start, earlier_count, on_board
from models.dispatch.tables import Dispatch, InboxPresence, Visit
from models.reference import Agency
from models.users import User


@dataclass(frozen=True)
class LiveRows:
    """One poll's rows: the dispatches on the live list (in order) and the earlier count."""

    rows: list
    earlier: int
    own_seen_at: datetime | None  # the polling agency's inbox, when last noted
    # The viewer's row still has the id, username, session version, role, agency and language
    # the list was read for, and is active (False: read the user again; the rows may not be
    # theirs to see).
    viewer_valid: bool

    def holds_until(self, at: datetime) -> datetime:
        """The first instant after `at` at which this list changes with no write: a listed
        dispatch becomes overdue, a listed agency's inbox counts as closed, or the Taipei day
        ends (today's dispatches become earlier ones). Until then, only a write changes it."""
        ends = [clock.day_bounds(clock.local(at).date())[1]]
        for row in self.rows:
            if not clock.is_past(row.deadline_at, at):
                ends.append(row.deadline_at + INSTANT)
            if row.inbox_seen_at is not None:  # open is `seen_at >= at - INBOX_OPEN_SECONDS`
                ends.append(row.inbox_seen_at + timedelta(seconds=INBOX_OPEN_SECONDS) + INSTANT)
        return min(ends)


# The smallest step of a stored instant: `deadline_at < at` turns true one step after it.
INSTANT = timedelta(microseconds=1)


def live_rows(user, at: datetime, *, own_agency_id: int | None = None) -> LiveRows:
    """The live list `user` may see at `at` in one statement: seniors and visitors needing
    accessibility first, then overdue first, then by deadline. Each row has the dispatch's
    columns, `agency_code`, `agency_name_zh`, `agency_name_en`, `agency_extension`,
    `visit_kind`, `is_senior`, `needs_accessibility`, `visit_created_at`, `served_arrived_at`
    (the latest arrival among the visit's dispatches), `acknowledged_by_name`, `inbox_open`
    and `overdue` (after `earlier` and `viewer_valid`). `own_agency_id`: also read when that
    agency's inbox was last noted."""
    stmt = _statement(user, own_agency_id)
    params = {
        "at": at,
        "day": day_start(at),
        "since": at - timedelta(seconds=INBOX_OPEN_SECONDS),
        "viewer_id": user.id,
        "viewer_username": user.username,
        "viewer_version": user.session_version,
        "viewer_locale": user.locale,
    }
    # Columns only: run on the session's connection, without the ORM's result handling.
    result = db.session.connection().execute(stmt, params).all()
    first = result[0]
    return LiveRows(
        rows=[row for row in result if row.id is not None],
        earlier=first.earlier,
        own_seen_at=first.own_seen_at if own_agency_id is not None else None,
        viewer_valid=bool(first.viewer_valid),
    )


# The statement is built once per viewer scope (its instants are bound parameters): building
# a select of this size costs more than running it.
_STATEMENTS: dict = {}


def _statement(user, own_agency_id: int | None):
    key = (user.role, user.agency_id, own_agency_id)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = _build(user, own_agency_id)
    return stmt


def _build(user, own_agency_id: int | None):
    """The poll's statement for one viewer scope; its instants are the bound parameters `at`,
    `day` and `since`."""
    instant = Dispatch.__table__.c.deadline_at.type
    at, day = bindparam("at", type_=instant), bindparam("day", type_=instant)
    since = bindparam("since", type_=instant)
    earlier = earlier_count(user, at, day).subquery("earlier")
    acked_by, presence = aliased(User), aliased(InboxPresence)
    columns = [
        earlier.c[0].label("earlier"),
        _viewer_valid(user).label("viewer_valid"),
        *_listed_columns(),
        _served_arrived_at().label("served_arrived_at"),
        acked_by.name.label("acknowledged_by_name"),
        presence.agency_id.is_not(None).label("inbox_open"),
        Dispatch.past_deadline(at).label("overdue"),
        # when the agency's inbox was last seen: for holds_until, not shown (it moves)
        presence.seen_at.label("inbox_seen_at"),
    ]
    if own_agency_id is not None:
        columns.append(
            select(InboxPresence.seen_at)
            .where(InboxPresence.agency_id == own_agency_id)
            .scalar_subquery()
            .label("own_seen_at")
        )
    priority_first = case((Visit.priority_expr(), 0), else_=1)
    overdue_first = case((Dispatch.past_deadline(at), 0), else_=1)
    return (
        select(*columns)
        .select_from(earlier)
        .outerjoin(Dispatch, and_(on_board(at, day), visible_condition(user)))
        .outerjoin(Agency, Agency.id == Dispatch.agency_id)
        .outerjoin(Visit, Visit.id == Dispatch.visit_id)
        .outerjoin(acked_by, acked_by.id == Dispatch.acknowledged_by_id)
        .outerjoin(
            presence, and_(presence.agency_id == Dispatch.agency_id, presence.seen_at >= since)
        )
        .order_by(priority_first, overdue_first, Dispatch.deadline_at, Dispatch.id)
    )


def _viewer_valid(user):
    """SQL condition: the viewer's row is still the one the poll is answered for (the bound
    parameters `viewer_*`) and active; role and agency are the statement's own."""
    return exists().where(
        User.id == bindparam("viewer_id"),
        User.username == bindparam("viewer_username"),
        User.session_version == bindparam("viewer_version"),
        User.active.is_(True),
        User.role == user.role,
        User.agency_id.is_not_distinct_from(user.agency_id),
        User.locale.is_not_distinct_from(bindparam("viewer_locale", type_=User.locale.type)),
    )


def _listed_columns() -> list:
    """The dispatch's, its agency's and its visit's columns a live row shows."""
    return [
        Dispatch.id,
        Dispatch.visit_id,
        Dispatch.agency_id,
        Dispatch.subject,
        Dispatch.state,
        Dispatch.notified_at,
        Dispatch.sla_seconds,
        Dispatch.deadline_at,
        Dispatch.acknowledged_at,
        Dispatch.responder,
        Dispatch.eta_minutes,
        Dispatch.arrived_at,
        Dispatch.ended_at,
        Dispatch.end_reason,
        Dispatch.transferred_to_id,
        Agency.code.label("agency_code"),
        Agency.name_zh.label("agency_name_zh"),
        Agency.name_en.label("agency_name_en"),
        Agency.extension.label("agency_extension"),
        Visit.kind.label("visit_kind"),
        Visit.is_senior,
        Visit.needs_accessibility,
        Visit.created_at.label("visit_created_at"),
    ]


def _served_arrived_at():
    """A scalar subquery: the latest arrival among the dispatch's visit's dispatches."""
    other = aliased(Dispatch)
    return (
        select(func.max(other.arrived_at))
        .where(other.visit_id == Dispatch.visit_id)
        .scalar_subquery()
    )
