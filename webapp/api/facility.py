"""Repair tickets and inspection rounds over JSON: the same operations as the pages.

Tickets: list (filtered) and file them, read one, make each move (assign, start, fix, verify,
reopen), add a report to an open ticket, upload photos. A fix needs an after photo: upload it
first (`POST /defects/{id}/photos` with kind=after), then `POST /defects/{id}/fix`.
Rounds: list them, each zone's schedule, and record a round's checks and findings (what an
inspector's phone sends, also from its offline queue: each record carries the id the phone
made for it, and a repeated id is answered with the earlier record, recorded once).
"""

from flask import request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, select

from models import facility as fac
from models.core import clock, db
from models.core.errors import NotFound
from models.core.text import MAX_ID
from models.facility import InspectionRound, PhotoKind, TicketFilter
from models.photos import Upload
from models.users import User
from webapp.api.convention import ApiBlueprint, acting_user, page_of, unpaged
from webapp.api.facility_schemas import (
    AddReportSchema,
    AssignSchema,
    DefectCreateSchema,
    DefectListSchema,
    DefectQuerySchema,
    DefectSchema,
    FindingCreateSchema,
    FixSchema,
    PhotoFilesSchema,
    PhotoKindSchema,
    PhotoListSchema,
    PlaceQuerySchema,
    ReopenSchema,
    RoundCheckCreateSchema,
    RoundCheckSchema,
    RoundListSchema,
    RoundQuerySchema,
    ScheduleListSchema,
    SimilarListSchema,
)
from webapp.facility.labels import STATE_LABELS
from webapp.i18n import select_locale

blp = ApiBlueprint(
    "defects",
    __name__,
    path="/defects",
    description="Repair tickets (線上報修, 列管追蹤): defects found in rounds or reported online",
)
rounds_blp = ApiBlueprint(
    "inspection-rounds",
    __name__,
    path="/rounds",
    description="Inspection rounds (走動式巡檢) and their schedule",
)

ID = f"<int(min=1, max={MAX_ID}):defect_id>"
ROUND_ID = f"<int(min=1, max={MAX_ID}):round_id>"
# The photo part's accepted types (the server checks the content itself, not this header).
PHOTO_ENCODING = {
    "content": {
        "multipart/form-data": {
            "encoding": {"photo": {"contentType": "image/jpeg, image/png, image/webp, image/heic"}}
        }
    }
}


# What the ticket moves' errors mean here, beyond the API-wide wording.
TICKET_CONFLICT = {
    409: "The ticket is not in a state that allows this (or a fix has no after photo yet)"
}
FACILITY_ONLY = {403: "Facility staff and supervisors only"}
ROUND_MOVE = {
    403: "Facility staff and supervisors only; only the round's inspector (or a supervisor)",
    409: "The round is finished already, or the place has findings (no \u201cno defect\u201d)",
}
PHOTO_TOO_LARGE = {413: "A photo is larger than the limit (PHOTO_MAX_BYTES, 10 MB by default)"}


# --- helpers ------------------------------------------------------------------------------


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
    """A ticket as the API shows it to `user` (other reporters are null, see `fac.reveals`)."""

    def username(person) -> str | None:
        return person.username if person and fac.reveals(user, person) else None

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
        "reported_by": username(defect.reported_by),
        "assignee": defect.assignee.username if defect.assignee else None,
        "due_on": defect.due_on,
        "overdue": defect.is_overdue(),
        "fixed_at": defect.fixed_at,
        "fix_note": defect.fix_note,
        "verified_at": defect.verified_at,
        "verified_by": username(defect.verified_by),
    }
    if full:
        body["moves"] = sorted(fac.allowed_moves(user, defect))
        body["photos"] = [_photo_json(p) for p in fac.visible_photos(user, defect.photos)]
        body["events"] = [
            {
                "at": e.at,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "by": (e.user.username if e.user else e.actor) if shown else None,
                "assignee": e.assignee.username if e.assignee else None,
                "note": e.note if shown else "",
            }
            for e in fac.events_of(defect)
            for shown in [fac.reveals(user, e.user)]
        ]
    return body


def _done(defect) -> dict:
    db.session.commit()
    db.session.refresh(defect)
    return defect_json(defect, acting_user())


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
@blp.errors(422)
def list_defects(args):
    """Tickets the caller may see (managers: all; others: their own reports), oldest first."""
    user = acting_user()
    page = page_of(fac.ticket_query(user, TicketFilter(**unpaged(args))), args)
    return page.body(defect_json(d, user, full=False) for d in page.rows)


@blp.route("", methods=["POST"])
@blp.arguments(DefectCreateSchema)
@blp.response(201, DefectSchema)
@blp.errors(400, 404, 422)
def create_defect(data):
    """File a repair report (any signed-in user). Upload photos with POST …/photos."""
    category, zone, floor = _lookup_place(data)
    defect = fac.report_defect(
        by=acting_user(),
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
@blp.errors(422)
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
@blp.errors(404)
def get_defect(defect_id):
    """One ticket with its photos, timeline and the moves the caller may make."""
    return defect_json(fac.get_defect(defect_id, acting_user()), acting_user())


def _open_defect_for_report(defect_id: int):
    defect = fac.by_id(fac.Defect, defect_id)
    if defect is None:
        raise NotFound("No such ticket")
    return defect


@blp.route(ID + "/reports", methods=["POST"])
@blp.arguments(AddReportSchema)
@blp.response(201, DefectSchema)
@blp.errors(400, 404, 409, 422, notes=TICKET_CONFLICT)
def add_report(data, defect_id):
    """Add your report of the same defect to an open ticket (any signed-in user)."""
    defect = _open_defect_for_report(defect_id)
    category, zone, floor = _lookup_place(data)
    fac.add_report(
        defect,
        by=acting_user(),
        category=category,
        zone=zone,
        floor=floor,
        description=data["description"],
    )
    return _done(defect)


@blp.route(ID + "/assign", methods=["POST"])
@blp.arguments(AssignSchema)
@blp.response(200, DefectSchema)
@blp.errors(400, 403, 404, 409, 422, notes=TICKET_CONFLICT)
def assign(data, defect_id):
    """Assign the ticket to a facility staff member or supervisor (default: yourself)."""
    defect = fac.get_defect(defect_id, acting_user())
    person = acting_user()
    if data.get("assignee"):
        person = fac.user_by_username(data["assignee"])
        if person is None:
            raise NotFound(_l("Unknown user: %(name)s", name=data["assignee"]))
    fac.assign(defect, person, by=acting_user())
    return _done(defect)


@blp.route(ID + "/start", methods=["POST"])
@blp.response(200, DefectSchema)
@blp.errors(403, 404, 409, notes=TICKET_CONFLICT)
def start(defect_id):
    """Start work on an assigned ticket."""
    defect = fac.get_defect(defect_id, acting_user())
    fac.start(defect, by=acting_user())
    return _done(defect)


@blp.route(ID + "/fix", methods=["POST"])
@blp.arguments(FixSchema)
@blp.response(200, DefectSchema)
@blp.errors(400, 403, 404, 409, 422, notes=TICKET_CONFLICT)
def fix(data, defect_id):
    """Close as fixed: a note, and an after photo uploaded beforehand (kind=after)."""
    defect = fac.get_defect(defect_id, acting_user())
    fac.fix(defect, by=acting_user(), note=data["note"])
    return _done(defect)


@blp.route(ID + "/verify", methods=["POST"])
@blp.response(200, DefectSchema)
@blp.errors(403, 404, 409, notes=TICKET_CONFLICT)
def verify(defect_id):
    """Confirm the repair: a supervisor or the reporter (not whoever fixed it)."""
    defect = fac.get_defect(defect_id, acting_user())
    fac.verify(defect, by=acting_user())
    return _done(defect)


@blp.route(ID + "/reopen", methods=["POST"])
@blp.arguments(ReopenSchema)
@blp.response(200, DefectSchema)
@blp.errors(400, 403, 404, 409, 422, notes=TICKET_CONFLICT)
def reopen(data, defect_id):
    """Reopen a fixed or verified ticket with the reason (managers or the reporter)."""
    defect = fac.get_defect(defect_id, acting_user())
    fac.reopen(defect, by=acting_user(), reason=data["reason"])
    return _done(defect)


@blp.route(ID + "/photos", methods=["POST"])
@blp.arguments(PhotoKindSchema, location="query")
@blp.arguments(PhotoFilesSchema, location="files")
@blp.doc(requestBody=PHOTO_ENCODING)
@blp.response(201, PhotoListSchema)
@blp.errors(403, 404, 409, 413, 422, notes=TICKET_CONFLICT | PHOTO_TOO_LARGE)
def upload_photos(query, files, defect_id):
    """Upload photos (multipart field `photo`, repeatable); `?kind=after` for the repair."""
    defect = fac.get_defect(defect_id, acting_user())
    uploads = [Upload(f.filename, f.stream) for f in request.files.getlist("photo")]
    rows = fac.add_photos(defect, by=acting_user(), kind=PhotoKind(query["kind"]), uploads=uploads)
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
@rounds_blp.errors(403, 422, notes=FACILITY_ONLY)
def list_rounds(args):
    """Inspection rounds, newest first, with their checks and findings."""
    fac.require_manager(acting_user())
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
    page = page_of(stmt, args)
    findings = fac.findings_by_round(r.id for r in page.rows)
    return page.body(_round_json(r, [d.id for d in findings[r.id]]) for r in page.rows)


@rounds_blp.route("/schedule")
@rounds_blp.response(200, ScheduleListSchema)
@rounds_blp.errors(403, notes=FACILITY_ONLY)
def schedule():
    """Each active zone against its plan: last round, next due date, status."""
    fac.require_manager(acting_user())
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


def _open_round(round_id: int) -> InspectionRound:
    inspection = fac.by_id(InspectionRound, round_id)
    if inspection is None:
        raise NotFound(_l("No such round"))
    return inspection


@rounds_blp.route(ROUND_ID + "/checks", methods=["POST"])
@rounds_blp.arguments(RoundCheckCreateSchema)
@rounds_blp.response(200, RoundCheckSchema)
@rounds_blp.errors(400, 403, 404, 409, 422, notes=ROUND_MOVE)
def round_check(data, round_id):
    """Record "no defect" for a category on a floor of the round (once per `client_id`)."""
    check = fac.mark_no_defect(
        _open_round(round_id),
        fac.floor_by_code(data["floor"]),
        fac.category_by_code(data["category"]),
        by=acting_user(),
        client_id=data["client_id"],
    )
    db.session.commit()
    return {
        "round_id": check.round_id,
        "floor": check.floor.code,
        "category": check.category.code,
        "result": check.result,
        "checked_at": check.checked_at,
        "client_id": check.client_id,
    }


@rounds_blp.route(ROUND_ID + "/findings", methods=["POST"])
@rounds_blp.arguments(FindingCreateSchema, location="form")
@rounds_blp.response(201, DefectSchema)
@rounds_blp.errors(400, 403, 404, 409, 413, 422, notes=ROUND_MOVE | PHOTO_TOO_LARGE)
def round_finding(data, round_id):
    """Record a finding (a defect ticket) with its photos, optionally fixed on the spot (file
    parts `photo` and `after_photo`); once per `client_id`."""
    defect = fac.record_finding(
        _open_round(round_id),
        fac.floor_by_code(data["floor"]),
        fac.category_by_code(data["category"]),
        by=acting_user(),
        location=data["location"],
        description=data["description"],
        uploads=[Upload(f.filename, f.stream) for f in request.files.getlist("photo")],
        fixed_on_spot=data["fixed_on_spot"],
        fix_note=data["fix_note"],
        after_uploads=[Upload(f.filename, f.stream) for f in request.files.getlist("after_photo")],
        client_id=data["client_id"],
    )
    return _done(defect)
