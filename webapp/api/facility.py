"""Repair tickets and inspection rounds over JSON: the same operations as the pages.

Tickets: list (filtered) and file them, read one, make each move (assign, start, fix, verify,
reopen), add a report to an open ticket, upload photos. A fix needs an after photo: upload it
first (`POST /defects/{id}/photos` with kind=after), then `POST /defects/{id}/fix`.
Rounds: list them, and each zone's schedule.
"""

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import false, select

from models import facility as fac
from models.core import clock, db
from models.core.errors import NotFound
from models.facility import (
    DefectSource,
    InspectionRound,
    PhotoKind,
    TicketFilter,
    TicketState,
)
from models.photos import Upload
from models.reference import CATEGORY_ORDER
from models.users import User
from webapp.facility.labels import STATE_LABELS
from webapp.i18n import select_locale

blp = Blueprint(
    "defects",
    __name__,
    description="Repair tickets (線上報修, 列管追蹤): defects found in rounds or reported online",
)
blp.url_prefix_suffix = "/defects"

rounds_blp = Blueprint(
    "inspection-rounds", __name__, description="Inspection rounds (走動式巡檢) and their schedule"
)
rounds_blp.url_prefix_suffix = "/rounds"

MAX_PER_PAGE = 200
MAX_PAGE = 100_000
CODE = validate.Regexp(r"^[A-Za-z0-9_.@-]{1,64}$", error="Not a code")
# Blank: NUL, control characters and every character Python's str.strip() removes. Spelled out
# (not \s) so that the document's regex means the same in every engine.
BLANK = r"\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT = validate.Regexp(rf"^[{BLANK}]*[^{BLANK}]", error="Write something")
CATEGORY = validate.OneOf(CATEGORY_ORDER)
ID = "<int(min=1, max=2147483647):defect_id>"
# The photo part's accepted types (the server checks the content itself, not this header).
PHOTO_ENCODING = {
    "content": {
        "multipart/form-data": {
            "encoding": {"photo": {"contentType": "image/jpeg, image/png, image/webp, image/heic"}}
        }
    }
}


# --- schemas ------------------------------------------------------------------------------


class FacilityErrorSchema(Schema):
    """An error: a stable code and a message for people."""

    error = fields.String(required=True, metadata={"example": "conflict"})
    message = fields.String(required=True)
    fields = fields.Dict(metadata={"description": "Field errors (422 on bad input)"})


STATES = [s.value for s in TicketState]


class DefectQuerySchema(Schema):
    """Filters of the ticket list."""

    state = fields.String(
        validate=validate.OneOf([*STATES, "open", "closed"]),
        metadata={"description": "A state, `open` or `closed` (fixed or verified)"},
    )
    category = fields.String(validate=CATEGORY)
    zone = fields.String(validate=CODE)
    floor = fields.String(validate=CODE)
    assignee = fields.String(validate=CODE, metadata={"description": "A username, `me` or `none`"})
    overdue = fields.Boolean(load_default=False)
    source = fields.String(validate=validate.OneOf([s.value for s in DefectSource]))
    found_from = fields.Date(metadata={"description": "Taipei date, inclusive"})
    found_to = fields.Date(metadata={"description": "Taipei date, inclusive"})
    mine = fields.Boolean(load_default=False, metadata={"description": "Only my reports"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PlaceQuerySchema(Schema):
    """A zone, floor and category (the duplicate hint)."""

    zone = fields.String(required=True, validate=CODE)
    floor = fields.String(required=True, validate=CODE)
    category = fields.String(required=True, validate=CATEGORY)


class DefectCreateSchema(Schema):
    """A new repair report (photos are uploaded afterwards)."""

    category = fields.String(required=True, validate=CATEGORY, metadata={"example": "corridor"})
    zone = fields.String(required=True, validate=CODE, metadata={"example": "northeast"})
    floor = fields.String(required=True, validate=CODE, metadata={"example": "3F"})
    location = fields.String(load_default="", validate=validate.Length(max=200))
    description = fields.String(required=True, validate=[validate.Length(max=4000), TEXT])


class AddReportSchema(Schema):
    """Someone else's report of the same defect."""

    description = fields.String(required=True, validate=[validate.Length(max=4000), TEXT])


class AssignSchema(Schema):
    """Whom to give the ticket to (yourself when left out)."""

    assignee = fields.String(
        validate=CODE, metadata={"description": "Username; default: the caller"}
    )


class FixSchema(Schema):
    """What was done."""

    note = fields.String(required=True, validate=[validate.Length(max=4000), TEXT])


class ReopenSchema(Schema):
    """Why the ticket is reopened."""

    reason = fields.String(required=True, validate=[validate.Length(max=2000), TEXT])


class PhotoKindSchema(Schema):
    """Before (the problem) or after (the repair)."""

    kind = fields.String(
        load_default="before", validate=validate.OneOf([k.value for k in PhotoKind])
    )


class PhotoFilesSchema(Schema):
    """One or more image files (JPEG, PNG, WebP, HEIC), each within the size limit."""

    photo = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "image"}
    )


class PhotoSchema(Schema):
    """A photo of a ticket."""

    id = fields.Integer()
    kind = fields.String()
    format = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    size_bytes = fields.Integer()
    uploaded_at = fields.DateTime()
    url = fields.String(metadata={"description": "The original (signed-in users)"})
    display_url = fields.String(metadata={"description": "A resized JPEG copy"})
    thumb_url = fields.String()


class EventSchema(Schema):
    """A step of the ticket's timeline."""

    at = fields.DateTime()
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    by = fields.String()
    assignee = fields.String(allow_none=True)
    note = fields.String()


class DefectSchema(Schema):
    """A defect and its repair ticket."""

    id = fields.Integer()
    reference = fields.String(allow_none=True)
    state = fields.String(metadata={"enum": STATES})
    category = fields.String()
    zone = fields.String()
    floor = fields.String(allow_none=True)
    location = fields.String()
    description = fields.String()
    source = fields.String()
    round_id = fields.Integer(allow_none=True)
    found_at = fields.DateTime()
    reported_by = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    fixed_at = fields.DateTime(allow_none=True)
    fix_note = fields.String(allow_none=True)
    verified_at = fields.DateTime(allow_none=True)
    verified_by = fields.String(allow_none=True)
    moves = fields.List(fields.String(), metadata={"description": "Moves the caller may make"})
    photos = fields.List(fields.Nested(PhotoSchema))
    events = fields.List(fields.Nested(EventSchema))


class DefectListSchema(Schema):
    """A page of tickets."""

    items = fields.List(fields.Nested(DefectSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class SimilarSchema(Schema):
    """An open ticket at the same place and category."""

    id = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    place = fields.String()
    description = fields.String()
    found_at = fields.DateTime()


class SimilarListSchema(Schema):
    """Open tickets at the same place and category."""

    items = fields.List(fields.Nested(SimilarSchema))


class PhotoListSchema(Schema):
    """Stored photos."""

    items = fields.List(fields.Nested(PhotoSchema))


class RoundQuerySchema(Schema):
    """Filters of the round list."""

    zone = fields.String(validate=CODE)
    started_from = fields.Date(metadata={"description": "Taipei date, inclusive"})
    started_to = fields.Date(metadata={"description": "Taipei date, inclusive"})
    finished = fields.Boolean()
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class CheckSchema(Schema):
    """A round's verdict for a category on a floor."""

    floor = fields.String()
    category = fields.String()
    result = fields.String(metadata={"enum": ["ok", "defects"]})
    checked_at = fields.DateTime()


class RoundSchema(Schema):
    """An inspection round."""

    id = fields.Integer()
    zone = fields.String()
    floors = fields.List(fields.String())
    inspector = fields.String(allow_none=True)
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    checks = fields.List(fields.Nested(CheckSchema))
    findings = fields.List(fields.Integer(), metadata={"description": "Defect ids"})


class RoundListSchema(Schema):
    """A page of rounds."""

    items = fields.List(fields.Nested(RoundSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class ScheduleSchema(Schema):
    """A zone against its inspection plan."""

    zone = fields.String()
    frequency_days = fields.Integer(allow_none=True)
    active = fields.Boolean()
    last_finished_at = fields.DateTime(allow_none=True)
    due_on = fields.Date(allow_none=True)
    status = fields.String(
        metadata={"enum": ["no_plan", "never", "overdue", "due_today", "due_next", "ok"]}
    )
    open_rounds = fields.List(fields.Integer())


class ScheduleListSchema(Schema):
    """Every active zone's schedule."""

    items = fields.List(fields.Nested(ScheduleSchema))


def _errors(*statuses):
    descriptions = {
        400: "The body is not valid JSON",
        401: "Not signed in, or the token is invalid",
        403: "The caller's role does not allow this",
        404: "No such record, or not one the caller can see",
        409: "The ticket is not in a state that allows this (or a fix has no after photo yet)",
        413: "A photo is larger than the limit (PHOTO_MAX_BYTES, 10 MB by default)",
        422: "Invalid input (see `fields`)",
    }

    def decorate(view):
        for status in statuses:
            view = blp.alt_response(
                status, schema=FacilityErrorSchema, description=descriptions[status], success=False
            )(view)
        return view

    return decorate


# --- helpers ------------------------------------------------------------------------------


def _me() -> User:
    return current_user._get_current_object()


def _require_manager() -> None:
    fac.require_manager(_me())


def _photo_json(photo) -> dict:
    return {
        "id": photo.id,
        "kind": photo.kind,
        "format": photo.format,
        "width": photo.width,
        "height": photo.height,
        "size_bytes": photo.size_bytes,
        "uploaded_at": photo.uploaded_at,
        "url": url_for("facility.photo", photo_id=photo.id),
        "display_url": url_for("facility.photo", photo_id=photo.id, variant="display"),
        "thumb_url": url_for("facility.photo", photo_id=photo.id, variant="thumb"),
    }


def defect_json(defect, user: User, *, full: bool = True) -> dict:
    """A ticket as the API shows it to `user`."""
    body = {
        "id": defect.id,
        "reference": defect.reference,
        "state": defect.state,
        "category": defect.category.code,
        "zone": defect.zone.code,
        "floor": defect.floor.code if defect.floor else None,
        "location": defect.location,
        "description": defect.description,
        "source": defect.source,
        "round_id": defect.round_id,
        "found_at": defect.found_at,
        "reported_by": defect.reported_by.username if defect.reported_by else None,
        "assignee": defect.assignee.username if defect.assignee else None,
        "due_on": defect.due_on,
        "overdue": defect.is_overdue(),
        "fixed_at": defect.fixed_at,
        "fix_note": defect.fix_note,
        "verified_at": defect.verified_at,
        "verified_by": defect.verified_by.username if defect.verified_by else None,
    }
    if full:
        body["moves"] = sorted(fac.allowed_moves(user, defect))
        body["photos"] = [_photo_json(p) for p in defect.photos]
        body["events"] = [
            {
                "at": e.at,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "by": e.user.username if e.user else e.actor,
                "assignee": e.assignee.username if e.assignee else None,
                "note": e.note,
            }
            for e in fac.events_of(defect)
        ]
    return body


def _done(defect) -> dict:
    db.session.commit()
    db.session.refresh(defect)
    return defect_json(defect, _me())


def _lookup_place(data) -> tuple:
    return (
        fac.category_by_code(data["category"]),
        fac.zone_by_code(data["zone"]),
        fac.floor_by_code(data["floor"]),
    )


# --- tickets ------------------------------------------------------------------------------


@blp.route("")
@blp.arguments(DefectQuerySchema, location="query")
@blp.response(200, DefectListSchema)
@_errors(401, 422)
def list_defects(args):
    """Tickets the caller may see (managers: all; others: their own reports), oldest first."""
    page, per_page = args.pop("page"), args.pop("per_page")
    stmt = fac.ticket_query(_me(), TicketFilter(**args))
    rows = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    return {
        "items": [defect_json(d, _me(), full=False) for d in rows.items],
        "total": rows.total,
        "page": page,
        "per_page": per_page,
    }


@blp.route("", methods=["POST"])
@blp.arguments(DefectCreateSchema)
@blp.response(201, DefectSchema)
@_errors(400, 401, 404, 422)
def create_defect(data):
    """File a repair report (any signed-in user). Upload photos with POST …/photos."""
    category, zone, floor = _lookup_place(data)
    defect = fac.report_defect(
        by=_me(),
        category=category,
        zone=zone,
        floor=floor,
        location=data["location"],
        description=data["description"],
    )
    return _done(defect)


@blp.route("/similar")
@blp.arguments(PlaceQuerySchema, location="query")
@blp.response(200, SimilarListSchema)
@_errors(401, 422)
def similar(args):
    """Open tickets at the same zone, floor and category (the duplicate hint)."""
    category = fac.find_by_code(fac.DefectCategory, args["category"])
    zone = fac.find_by_code(fac.Zone, args["zone"])
    floor = fac.find_by_code(fac.Floor, args["floor"])
    if not (category and zone and floor):
        return {"items": []}  # nothing is open at a place that does not exist
    locale = select_locale()
    return {
        "items": [
            {
                "id": d.id,
                "state": d.state,
                "state_label": str(STATE_LABELS[d.state]),
                "place": d.place(locale),
                "description": d.description[:120],
                "found_at": d.found_at,
            }
            for d in fac.similar_open(zone, floor, category)
        ]
    }


@blp.route(ID)
@blp.response(200, DefectSchema)
@_errors(401, 404)
def get_defect(defect_id):
    """One ticket with its photos, timeline and the moves the caller may make."""
    return defect_json(fac.get_defect(defect_id, _me()), _me())


def _open_defect_for_report(defect_id: int):
    defect = fac.by_id(fac.Defect, defect_id)
    if defect is None:
        raise NotFound("No such ticket")
    return defect


@blp.route(ID + "/reports", methods=["POST"])
@blp.arguments(AddReportSchema)
@blp.response(201, DefectSchema)
@_errors(400, 401, 404, 409, 422)
def add_report(data, defect_id):
    """Add your report of the same defect to an open ticket (any signed-in user)."""
    defect = _open_defect_for_report(defect_id)
    fac.add_report(defect, by=_me(), description=data["description"])
    return _done(defect)


@blp.route(ID + "/assign", methods=["POST"])
@blp.arguments(AssignSchema)
@blp.response(200, DefectSchema)
@_errors(400, 401, 403, 404, 409, 422)
def assign(data, defect_id):
    """Assign the ticket to a facility staff member or supervisor (default: yourself)."""
    defect = fac.get_defect(defect_id, _me())
    person = _me()
    if data.get("assignee"):
        person = fac.user_by_username(data["assignee"])
        if person is None:
            raise NotFound(_l("Unknown user: %(name)s", name=data["assignee"]))
    fac.assign(defect, person, by=_me())
    return _done(defect)


@blp.route(ID + "/start", methods=["POST"])
@blp.response(200, DefectSchema)
@_errors(401, 403, 404, 409)
def start(defect_id):
    """Start work on an assigned ticket."""
    defect = fac.get_defect(defect_id, _me())
    fac.start(defect, by=_me())
    return _done(defect)


@blp.route(ID + "/fix", methods=["POST"])
@blp.arguments(FixSchema)
@blp.response(200, DefectSchema)
@_errors(400, 401, 403, 404, 409, 422)
def fix(data, defect_id):
    """Close as fixed: a note, and an after photo uploaded beforehand (kind=after)."""
    defect = fac.get_defect(defect_id, _me())
    fac.fix(defect, by=_me(), note=data["note"])
    return _done(defect)


@blp.route(ID + "/verify", methods=["POST"])
@blp.response(200, DefectSchema)
@_errors(401, 403, 404, 409)
def verify(defect_id):
    """Confirm the repair: a supervisor or the reporter (not whoever fixed it)."""
    defect = fac.get_defect(defect_id, _me())
    fac.verify(defect, by=_me())
    return _done(defect)


@blp.route(ID + "/reopen", methods=["POST"])
@blp.arguments(ReopenSchema)
@blp.response(200, DefectSchema)
@_errors(400, 401, 403, 404, 409, 422)
def reopen(data, defect_id):
    """Reopen a fixed or verified ticket with the reason (managers or the reporter)."""
    defect = fac.get_defect(defect_id, _me())
    fac.reopen(defect, by=_me(), reason=data["reason"])
    return _done(defect)


@blp.route(ID + "/photos", methods=["POST"])
@blp.arguments(PhotoKindSchema, location="query")
@blp.arguments(PhotoFilesSchema, location="files")
@blp.doc(requestBody=PHOTO_ENCODING)
@blp.response(201, PhotoListSchema)
@_errors(401, 403, 404, 409, 413, 422)
def upload_photos(query, files, defect_id):
    """Upload photos (multipart field `photo`, repeatable); `?kind=after` for the repair."""
    defect = fac.get_defect(defect_id, _me())
    uploads = [Upload(f.filename, f.stream) for f in request.files.getlist("photo")]
    rows = fac.add_photos(defect, by=_me(), kind=PhotoKind(query["kind"]), uploads=uploads)
    db.session.commit()
    return {"items": [_photo_json(p) for p in rows]}


# --- rounds -------------------------------------------------------------------------------


def _round_json(inspection, findings: list[int]) -> dict:
    return {
        "id": inspection.id,
        "zone": inspection.zone.code,
        "floors": inspection.floor_codes,
        "inspector": inspection.inspector.username if inspection.inspector else None,
        "started_at": inspection.started_at,
        "finished_at": inspection.finished_at,
        "checks": [
            {
                "floor": c.floor.code,
                "category": c.category.code,
                "result": c.result,
                "checked_at": c.checked_at,
            }
            for c in inspection.checks
        ],
        "findings": findings,
    }


@rounds_blp.route("")
@rounds_blp.arguments(RoundQuerySchema, location="query")
@rounds_blp.response(200, RoundListSchema)
@rounds_blp.alt_response(
    401, schema=FacilityErrorSchema, description="Not signed in", success=False
)
@rounds_blp.alt_response(
    403,
    schema=FacilityErrorSchema,
    description="Facility staff and supervisors only",
    success=False,
)
@rounds_blp.alt_response(
    422, schema=FacilityErrorSchema, description="Invalid input", success=False
)
def list_rounds(args):
    """Inspection rounds, newest first, with their checks and findings."""
    _require_manager()
    stmt = select(InspectionRound)
    if args.get("zone"):
        zone = fac.find_by_code(fac.Zone, args["zone"], active_only=False)
        stmt = stmt.where(InspectionRound.zone_id == zone.id if zone else false())
    if args.get("started_from"):
        stmt = stmt.where(InspectionRound.started_at >= clock.day_bounds(args["started_from"])[0])
    if args.get("started_to"):
        stmt = stmt.where(InspectionRound.started_at < clock.day_bounds(args["started_to"])[1])
    if "finished" in args:
        column = InspectionRound.finished_at
        stmt = stmt.where(column.is_not(None) if args["finished"] else column.is_(None))
    stmt = stmt.order_by(InspectionRound.started_at.desc(), InspectionRound.id.desc())
    rows = db.paginate(stmt, page=args["page"], per_page=args["per_page"], error_out=False)
    findings = fac.findings_by_round(r.id for r in rows.items)
    return {
        "items": [_round_json(r, [d.id for d in findings[r.id]]) for r in rows.items],
        "total": rows.total,
        "page": args["page"],
        "per_page": args["per_page"],
    }


@rounds_blp.route("/schedule")
@rounds_blp.response(200, ScheduleListSchema)
@rounds_blp.alt_response(
    401, schema=FacilityErrorSchema, description="Not signed in", success=False
)
@rounds_blp.alt_response(
    403,
    schema=FacilityErrorSchema,
    description="Facility staff and supervisors only",
    success=False,
)
def schedule():
    """Each active zone against its plan: last round, next due date, status."""
    _require_manager()
    return {
        "items": [
            {
                "zone": s.zone.code,
                "frequency_days": s.plan.frequency_days if s.plan else None,
                "active": bool(s.plan and s.plan.active),
                "last_finished_at": s.last_round.finished_at if s.last_round else None,
                "due_on": s.due_on,
                "status": s.status.value,
                "open_rounds": [r.id for r in s.open_rounds],
            }
            for s in fac.round_schedule()
        ]
    }
