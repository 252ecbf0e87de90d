"""Counter visits and agency dispatches over JSON: the same operations as the pages.

Their schemas are in webapp.api.dispatch_schemas; the live feed (`GET /dispatches/open`: its
body, ETag and 304) in webapp.api.live_feed."""

from datetime import datetime

from models.core import clock, db
from models.core.errors import Forbidden
from models.dispatch import (
    Dispatch,
    DispatchFilter,
    Visit,
    VisitRating,
    acknowledge,
    arrive,
    can_see_dispatches,
    cancel,
    dispatch_for,
    find_agency,
    log_visit,
    notify,
    rate_visit,
    rating_for,
    search_dispatches,
    settle_visit,
    transfer,
    visit_for,
)
from models.dispatch.privacy import mask_name, mask_phone
from models.dispatch.queries import DETAILS
from models.users import User
from webapp.api.convention import ApiBlueprint, acting_user, page_of
from webapp.api.dispatch_schemas import (
    AcknowledgeInSchema,
    AgencyInSchema,
    CancelInSchema,
    DispatchListSchema,
    DispatchQuerySchema,
    DispatchSchema,
    LiveQuerySchema,
    LiveSchema,
    RatingInSchema,
    RatingSchema,
    TransferInSchema,
    VisitInSchema,
    VisitSchema,
    query_bounds,
)
from webapp.api.live_feed import live_answer
from webapp.i18n import current_locale

visits_blp = ApiBlueprint("visits", __name__, path="/visits", description="Counter visits (clerks)")
dispatches_blp = ApiBlueprint(
    "dispatches",
    __name__,
    path="/dispatches",
    description="Agency dispatches and their 10-minute clock",
)


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
    start, end = query_bounds(args.get("from_"), args.get("to"))
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
    return live_answer(_dispatch_viewer, args["inbox"])


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
