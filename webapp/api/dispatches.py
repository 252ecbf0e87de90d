"""Counter visits and agency dispatches over JSON: the same operations as the pages."""

import hashlib
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models.core import clock, db
from models.core.errors import Forbidden
from models.core.text import reads_english
from models.dispatch import (
    EARLIER_COUNT_CAP,
    MAX_ETA_MINUTES,
    MAX_TEXT,
    PHONE_RE,
    SCORE_VALUES,
    Dispatch,
    DispatchFilter,
    DispatchState,
    LiveRows,
    Outcome,
    Visit,
    VisitKind,
    VisitRating,
    VisitStatus,
    acknowledge,
    arrive,
    can_see_dispatches,
    cancel,
    dispatch_for,
    find_agency,
    inbox_seen_due,
    live_rows,
    log_visit,
    notify,
    rate_visit,
    rating_for,
    record_inbox_seen,
    search_dispatches,
    settle_visit,
    transfer,
    visit_for,
)
from models.dispatch.privacy import mask_name, mask_phone
from models.dispatch.queries import DETAILS
from models.users import Role, User
from webapp import poll_connection
from webapp.api.convention import (
    ApiBlueprint,
    PageArgsSchema,
    PageSchema,
    acting_user,
    page_of,
)
from webapp.api.live_kept import KeptAnswer, change_count, keep_answer, kept_answer
from webapp.extensions import login_manager
from webapp.i18n import current_locale
from webapp.paging import API_DAY_MESSAGE, validate_day
from webapp.security import reload_viewer, session_locked

visits_blp = ApiBlueprint("visits", __name__, path="/visits", description="Counter visits (clerks)")
dispatches_blp = ApiBlueprint(
    "dispatches",
    __name__,
    path="/dispatches",
    description="Agency dispatches and their 10-minute clock",
)

STATE_VALUES = [s.value for s in DispatchState]
OUTCOME_VALUES = [o.value for o in Outcome]


# --- Schemas -----------------------------------------------------------------------------


class TaipeiDateTime(fields.DateTime):
    """An instant as ISO 8601 with the Asia/Taipei offset (+08:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return clock.local(value).isoformat()


class DayOrInstant(fields.Field):
    """A Taipei calendar day (YYYY-MM-DD) or an ISO 8601 instant (no offset = Taipei time)."""

    def __init__(self, **kwargs):
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("type", "string")
        metadata.setdefault("example", "2024-03-04")
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("Not a date or a date-time.")
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else clock.parse_local(text)
        except ValueError as exc:
            raise ValidationError("Not a date (YYYY-MM-DD) or an ISO 8601 date-time.") from exc
        except OverflowError as exc:  # year 1 or 9999 moved to UTC
            raise ValidationError(API_DAY_MESSAGE) from exc
        validate_day(value)
        return value


class StrictBoolean(fields.Boolean):
    """A JSON boolean: true or false only (not 0, 1, "yes")."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class DispatchSchema(Schema):
    """A dispatch: the notice to an agency and its clock (times ISO 8601, Taipei offset)."""

    id = fields.Integer(required=True)
    visit_id = fields.Integer(allow_none=True)
    agency = fields.String(required=True, metadata={"description": "Agency code"})
    agency_name = fields.String(required=True)
    agency_extension = fields.String(required=True)
    subject = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATE_VALUES))
    kind = fields.String(allow_none=True, metadata={"description": "The visit's kind"})
    is_senior = fields.Boolean(required=True)
    needs_accessibility = fields.Boolean(required=True)
    notified_at = TaipeiDateTime(required=True)
    sla_seconds = fields.Integer(required=True)
    deadline_at = TaipeiDateTime(required=True)
    acknowledged_at = TaipeiDateTime(allow_none=True, required=True)
    acknowledged_by = fields.String(allow_none=True, metadata={"description": "Who clicked"})
    responder = fields.String(allow_none=True, metadata={"description": "Who is coming"})
    eta_minutes = fields.Integer(allow_none=True)
    arrived_at = TaipeiDateTime(allow_none=True, required=True)
    ended_at = TaipeiDateTime(allow_none=True, required=True)
    end_reason = fields.String(allow_none=True)
    transferred_to_id = fields.Integer(allow_none=True)
    overdue = fields.Boolean(required=True, metadata={"description": "Open past its deadline"})
    on_time = fields.Boolean(
        allow_none=True,
        required=True,
        metadata={"description": "null while pending, cancelled in time or transferred"},
    )
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOME_VALUES))
    remaining_seconds = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Seconds to the deadline (negative when overdue); null once ended"
        },
    )
    visit_created_at = TaipeiDateTime(
        allow_none=True,
        metadata={"description": "When the visit was logged: the visitor's wait starts there"},
    )
    visitor_wait_seconds = fields.Integer(
        allow_none=True,
        metadata={
            "description": "The visitor's whole wait, logging to the arrival that served them "
            "(across transfers); null until someone arrived"
        },
    )


class LiveDispatchSchema(DispatchSchema):
    """An open dispatch on the live pages, with whether its agency's inbox is open."""

    inbox_open = fields.Boolean(
        metadata={"description": "The agency's inbox polled in the last 10 seconds"}
    )


class LiveQuerySchema(Schema):
    """Who polls: the agency inbox says so, and its agency is shown as reachable."""

    inbox = fields.Boolean(
        load_default=False,
        metadata={"description": "Polled by the agency inbox (agency staff): note it open"},
    )


class LiveSchema(Schema):
    """Today's open dispatches the caller may see (and any whose clock still runs), with the
    server's time to correct clocks and the count of earlier ones (日結).

    While an idle agency inbox is locked, `locked` is true and each dispatch carries only
    what its alerts need (no subject and no personal data)."""

    server_time = TaipeiDateTime(required=True)
    earlier_open = fields.Integer(
        required=True,
        metadata={
            "description": "Open dispatches from earlier days (past their deadline) waiting "
            f"for the end of day (日結), not listed; counted up to {EARLIER_COUNT_CAP}"
        },
    )
    locked = fields.Boolean()
    dispatches = fields.List(fields.Nested(LiveDispatchSchema), required=True)


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


class DispatchListSchema(PageSchema):
    """A page of dispatches, newest first."""

    items = fields.List(fields.Nested(DispatchSchema), required=True)


class VisitSchema(Schema):
    """A counter visit; the petitioner's name and phone are masked."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in VisitKind]))
    subject = fields.String(required=True)
    summary = fields.String(required=True)
    agency = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in VisitStatus]))
    petitioner_name = fields.String(allow_none=True, metadata={"description": "Masked: 王○明"})
    petitioner_phone = fields.String(
        allow_none=True, metadata={"description": "Masked: 09xx-xxx-123"}
    )
    is_senior = fields.Boolean(required=True)
    needs_accessibility = fields.Boolean(required=True)
    notes = fields.String(required=True)
    created_at = TaipeiDateTime(required=True)
    closed_at = TaipeiDateTime(allow_none=True, required=True)
    dispatch = fields.Nested(
        DispatchSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The visit's latest dispatch, if any"},
    )
    visitor_wait_seconds = fields.Integer(
        allow_none=True,
        metadata={"description": "The visitor's whole wait; null until someone arrived"},
    )
    rating = fields.String(
        allow_none=True,
        validate=validate.OneOf(SCORE_VALUES),
        metadata={"description": "The visitor's answer, if they gave one"},
    )


class RatingInSchema(Schema):
    """The visitor's answer, after the responder arrived (one per visit)."""

    score = fields.String(
        required=True,
        validate=validate.OneOf(SCORE_VALUES),
        metadata={"description": "satisfied 滿意, neutral 普通, dissatisfied 不滿意"},
    )


class RatingSchema(Schema):
    """A visitor's recorded answer."""

    visit_id = fields.Integer(required=True)
    dispatch_id = fields.Integer(
        required=True, metadata={"description": "The dispatch that served the visitor"}
    )
    agency = fields.String(required=True, metadata={"description": "Its agency's code"})
    score = fields.String(required=True, validate=validate.OneOf(SCORE_VALUES))
    at = TaipeiDateTime(required=True)
    visitor_wait_seconds = fields.Integer(allow_none=True)


class VisitInSchema(Schema):
    """A new visit; with `agency` the agency is notified at once, `settled` closes it."""

    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in VisitKind]))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(load_default="", validate=validate.Length(max=MAX_TEXT))
    agency = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "Agency code or name: notify it at once"},
    )
    petitioner_name = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=100)
    )
    petitioner_phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=40), validate.Regexp(PHONE_RE)],
    )
    is_senior = StrictBoolean(load_default=False)
    needs_accessibility = StrictBoolean(load_default=False)
    notes = fields.String(load_default="", validate=validate.Length(max=MAX_TEXT))
    settled = StrictBoolean(
        load_default=False, metadata={"description": "Settled at the counter: no dispatch"}
    )


class AgencyInSchema(Schema):
    """The agency to notify."""

    agency = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Agency code, Chinese or English name"},
    )


class TransferInSchema(AgencyInSchema):
    """The agency to transfer to, and why."""

    reason = fields.String(load_default="", validate=validate.Length(max=MAX_TEXT))


class AcknowledgeInSchema(Schema):
    """Who the agency sends, and optionally in how many minutes."""

    responder = fields.String(required=True, validate=validate.Length(min=1, max=100))
    eta_minutes = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_ETA_MINUTES),
        strict=True,
    )


class CancelInSchema(Schema):
    """Why the dispatch ends with nobody arrived."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TEXT))


class EmptySchema(Schema):
    """No body needed."""


class DispatchQuerySchema(PageArgsSchema):
    """Filters for the dispatch list (notified in [from, to]; a day means the whole day)."""

    state = fields.String(validate=validate.OneOf(["open", *STATE_VALUES]))
    agency = fields.String(validate=validate.Length(max=200))
    from_ = DayOrInstant(data_key="from")
    to = DayOrInstant()
    outcome = fields.String(validate=validate.OneOf(OUTCOME_VALUES))

    @validates_schema
    def _in_order(self, data, **_kwargs):
        start, end = _bounds(data.get("from_"), data.get("to"))
        if start and end and start >= end:
            raise ValidationError("'from' must be before 'to'.", "to")


def _bounds(start, end) -> tuple[datetime | None, datetime | None]:
    """The [start, end) instants of the from/to query parameters."""
    if isinstance(start, date) and not isinstance(start, datetime):
        start = clock.day_bounds(start)[0]
    if isinstance(end, date) and not isinstance(end, datetime):
        end = clock.day_bounds(end)[1]
    elif isinstance(end, datetime):
        end = end + timedelta(microseconds=1)  # an instant is inclusive
    return start, end


# --- Serialisation -----------------------------------------------------------------------


def dispatch_data(dispatch: Dispatch, at: datetime | None = None) -> dict:
    """The API view of a dispatch at instant `at` (default now)."""
    at = at or clock.now()
    visit = dispatch.visit
    outcome = dispatch.outcome(at)
    locale = current_locale()
    return {
        "id": dispatch.id,
        "visit_id": dispatch.visit_id,
        "agency": dispatch.agency.code,
        "agency_name": dispatch.agency.display_name(locale),
        "agency_extension": dispatch.agency.extension,
        "subject": dispatch.subject,
        "state": dispatch.state,
        "kind": visit.kind if visit else None,
        "is_senior": bool(visit and visit.is_senior),
        "needs_accessibility": bool(visit and visit.needs_accessibility),
        "notified_at": dispatch.notified_at,
        "sla_seconds": dispatch.sla_seconds,
        "deadline_at": dispatch.deadline_at,
        "acknowledged_at": dispatch.acknowledged_at,
        "acknowledged_by": dispatch.acknowledged_by.name if dispatch.acknowledged_by else None,
        "responder": dispatch.responder,
        "eta_minutes": dispatch.eta_minutes,
        "arrived_at": dispatch.arrived_at,
        "ended_at": dispatch.ended_at,
        "end_reason": dispatch.end_reason,
        "transferred_to_id": dispatch.transferred_to_id,
        "overdue": dispatch.is_overdue(at),
        "on_time": dispatch.on_time_at(at),
        "outcome": outcome.value,
        "remaining_seconds": (
            int((dispatch.deadline_at - at).total_seconds()) if dispatch.is_open else None
        ),
        "visit_created_at": visit.created_at if visit else None,
        "visitor_wait_seconds": visit.wait_seconds if visit else None,
    }


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
    exact = Decimal(str((served_at - created_at).total_seconds()))
    return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def live_item(row, at: datetime, locale: str, inbox_open: bool) -> dict:
    """The API view of one open dispatch of the live feed (a `live_rows` row) at `at`."""
    overdue = at > row.deadline_at
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


def visit_data(visit: Visit) -> dict:
    """The API view of a visit (personal data masked)."""
    latest = visit.dispatches[-1] if visit.dispatches else None
    return {
        "id": visit.id,
        "kind": visit.kind,
        "subject": visit.subject,
        "summary": visit.summary,
        "agency": visit.agency.code if visit.agency else None,
        "status": visit.status,
        "petitioner_name": mask_name(visit.petitioner_name) or None,
        "petitioner_phone": mask_phone(visit.petitioner_phone) or None,
        "is_senior": visit.is_senior,
        "needs_accessibility": visit.needs_accessibility,
        "notes": visit.notes,
        "created_at": visit.created_at,
        "closed_at": visit.closed_at,
        "dispatch": dispatch_data(latest) if latest else None,
        "visitor_wait_seconds": visit.wait_seconds,
        "rating": visit.rating.score if visit.rating else None,
    }


def rating_data(rating: VisitRating) -> dict:
    """The API view of a visitor's answer."""
    return {
        "visit_id": rating.visit_id,
        "dispatch_id": rating.dispatch_id,
        "agency": rating.dispatch.agency.code,
        "score": rating.score,
        "at": rating.at,
        "visitor_wait_seconds": rating.visit.wait_seconds,
    }


def _dispatch_viewer() -> User:
    """The caller, if their role sees dispatches at all (the lists have no operation that
    checks it; `dispatch_for` checks it for one dispatch)."""
    user = acting_user()
    if not can_see_dispatches(user):
        raise Forbidden("Your role does not see dispatches")
    return user


def _with_details(stmt):
    return stmt.options(*DETAILS)


# --- Visits ------------------------------------------------------------------------------


@visits_blp.route("", methods=["POST"])
@visits_blp.arguments(VisitInSchema)
@visits_blp.response(201, VisitSchema)
@visits_blp.errors(400, 403, 422)
def create_visit(data):
    """Log a visit (clerks); with `agency` the agency is notified at once."""
    settled = data.pop("settled")
    visit = log_visit(
        **data, notify_now=bool(data.get("agency")), settle_now=settled, by=acting_user()
    )
    db.session.commit()
    return visit_data(visit)


@visits_blp.route("/<int:visit_id>/dispatches", methods=["POST"])
@visits_blp.arguments(AgencyInSchema)
@visits_blp.response(201, DispatchSchema)
@visits_blp.errors(400, 403, 404, 409, 422)
def notify_agency(data, visit_id: int):
    """Notify an agency for an open visit: its 10-minute clock starts now (clerks)."""
    visit = visit_for(acting_user(), visit_id)
    dispatch = notify(visit, data["agency"], by=acting_user())
    db.session.commit()
    return dispatch_data(dispatch)


@visits_blp.route("/<int:visit_id>/settle", methods=["POST"])
@visits_blp.response(200, VisitSchema)
@visits_blp.errors(400, 403, 404, 409)
def settle(visit_id: int):
    """Close an open visit at the counter with no dispatch (clerks)."""
    visit = visit_for(acting_user(), visit_id)
    settle_visit(visit, by=acting_user())
    db.session.commit()
    return visit_data(visit)


@visits_blp.route("/<int:visit_id>/rating", methods=["POST"])
@visits_blp.arguments(RatingInSchema)
@visits_blp.response(201, RatingSchema)
@visits_blp.errors(
    400,
    403,
    404,
    409,
    422,
    notes={409: "Nobody has arrived yet, or the visitor has already answered (one per visit)"},
)
def rate(data, visit_id: int):
    """The visitor's one answer after the responder arrived (clerks: the counter's screen);
    不滿意 tells the service-centre chief at once."""
    visit = visit_for(acting_user(), visit_id)
    rate_visit(visit, data["score"], by=acting_user())
    db.session.commit()
    return rating_data(rating_for(visit))


# --- Dispatches --------------------------------------------------------------------------


@dispatches_blp.route("")
@dispatches_blp.arguments(DispatchQuerySchema, location="query")
@dispatches_blp.response(200, DispatchListSchema)
@dispatches_blp.errors(403, 422)
def list_dispatches(args):
    """Dispatches the caller may see, newest first, a page at a time (`page`, `per_page`).
    Agency staff see their own agency's only."""
    user = _dispatch_viewer()
    agency = find_agency(args["agency"], active_only=False) if args.get("agency") else None
    start, end = _bounds(args.get("from_"), args.get("to"))
    at = clock.now()
    filters = DispatchFilter(
        start=start, end=end, agency=agency, state=args.get("state"), outcome=args.get("outcome")
    )
    page = page_of(_with_details(search_dispatches(user, filters, at)), args)
    return page.body(dispatch_data(d, at) for d in page.rows)


@dispatches_blp.route("/open")
@dispatches_blp.arguments(LiveQuerySchema, location="query")
@dispatches_blp.response(
    200,
    LiveSchema,
    headers={
        "ETag": {
            "description": "A weak validator of the list as this caller sees it: send it back "
            "in If-None-Match and an unchanged list is a 304 with no body",
            "schema": {"type": "string"},
        }
    },
)
@dispatches_blp.alt_response(
    304,
    description="Not Modified: the list is the one of the ETag sent in If-None-Match (its "
    "order, states, acknowledgements, overdue flags and inbox flags are the same). Only the "
    "clock moved: count `remaining_seconds` down from `deadline_at` and the server time.",
)
@dispatches_blp.errors(403, 422)
def live(args):
    """Today's open dispatches the caller may see (and any whose clock still runs), seniors
    and overdue first, with the server time, whether each agency's inbox is open and how many
    open ones from earlier days wait for the end of day (日結). Polled by the live board and
    the agency inbox every 2 s: send the last ETag in If-None-Match and an unchanged list is
    answered 304 without being built."""
    user = _dispatch_viewer()
    at = clock.now()
    locked, locale = session_locked(), current_locale()
    count = change_count()  # read before the statement: a change during it makes it stale
    unchanged = _kept_unchanged(user, args["inbox"], locked, locale, count, at)
    if unchanged is not None:
        return unchanged
    feed = _feed(user, at, args["inbox"])
    if not feed.viewer_valid:  # the user's row changed since the viewer was kept: read it again
        if reload_viewer() is None:
            return login_manager.unauthorized()  # as for any session that lost its user
        user = _dispatch_viewer()
        feed = _feed(user, at, args["inbox"])
    own = _own_inbox(user, args["inbox"])
    inbox = own is not None
    own_seen_at = _note_inbox_if_due(user, inbox, feed.own_seen_at, at)
    tag = live_etag(user, feed, locked=locked, locale=locale, inbox=inbox)
    if count is not None and feed.viewer_valid:
        kept = KeptAnswer(tag, count, feed.holds_until(at), own_seen_at)
        keep_answer(_scope(user, args["inbox"], locked, locale), user.id, kept, at)
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


@dispatches_blp.route("/<int:dispatch_id>")
@dispatches_blp.response(200, DispatchSchema)
@dispatches_blp.errors(403, 404)
def get_dispatch(dispatch_id: int):
    """One dispatch (another agency's is a 404 to agency staff)."""
    return dispatch_data(dispatch_for(acting_user(), dispatch_id))


@dispatches_blp.route("/<int:dispatch_id>/acknowledge", methods=["POST"])
@dispatches_blp.arguments(AcknowledgeInSchema)
@dispatches_blp.response(200, DispatchSchema)
@dispatches_blp.errors(400, 403, 404, 409, 422)
def acknowledge_dispatch(data, dispatch_id: int):
    """The agency names who is coming (its own staff, or a clerk taking its call)."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    acknowledge(dispatch, data["responder"], data["eta_minutes"], by=acting_user())
    db.session.commit()
    return dispatch_data(dispatch)


@dispatches_blp.route("/<int:dispatch_id>/arrive", methods=["POST"])
@dispatches_blp.response(200, DispatchSchema)
@dispatches_blp.errors(400, 403, 404, 409)
def arrive_dispatch(dispatch_id: int):
    """The responder reached the counter: arrived_at is the server's time now (clerks)."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    arrive(dispatch, by=acting_user())
    db.session.commit()
    return dispatch_data(dispatch)


@dispatches_blp.route("/<int:dispatch_id>/cancel", methods=["POST"])
@dispatches_blp.arguments(CancelInSchema)
@dispatches_blp.response(200, DispatchSchema)
@dispatches_blp.errors(400, 403, 404, 409, 422)
def cancel_dispatch(data, dispatch_id: int):
    """End an open dispatch with nobody arrived, with a reason (clerks)."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    cancel(dispatch, data["reason"], by=acting_user())
    db.session.commit()
    return dispatch_data(dispatch)


@dispatches_blp.route("/<int:dispatch_id>/transfer", methods=["POST"])
@dispatches_blp.arguments(TransferInSchema)
@dispatches_blp.response(201, DispatchSchema, description="The new dispatch")
@dispatches_blp.errors(400, 403, 404, 409, 422)
def transfer_dispatch(data, dispatch_id: int):
    """Wrong agency: this dispatch ends as transferred and a new one starts its own clock for
    `agency`; returns the new dispatch (clerks)."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    successor = transfer(dispatch, data["agency"], data["reason"], by=acting_user())
    db.session.commit()
    return dispatch_data(successor)
