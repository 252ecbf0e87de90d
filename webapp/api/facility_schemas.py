"""The request and response schemas of the facility API (webapp.api.facility)."""

from marshmallow import Schema, fields, validate

from models.facility import DefectSource, PhotoKind, TicketState
from models.reference import CATEGORY_CODES
from webapp.api.convention import PageArgsSchema, PageSchema
from webapp.paging import api_day

CODE = validate.Regexp(r"^[A-Za-z0-9_.@-]{1,64}$", error="Not a code")
# Blank: NUL, control characters and every character Python's str.strip() removes. Spelled out
# (not \s) so that the document's regex means the same in every engine.
BLANK = r"\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT = validate.Regexp(rf"^[{BLANK}]*[^{BLANK}]", error="Write something")
CATEGORY = validate.OneOf(list(CATEGORY_CODES))

STATES = [s.value for s in TicketState]


class DefectQuerySchema(PageArgsSchema):
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
    found_from = api_day("Taipei date, inclusive")
    found_to = api_day("Taipei date, inclusive")
    mine = fields.Boolean(load_default=False, metadata={"description": "Only my reports"})


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
    """Someone else's report of the same defect, at the place where they saw it."""

    category = fields.String(required=True, validate=CATEGORY, metadata={"example": "corridor"})
    zone = fields.String(required=True, validate=CODE, metadata={"example": "northeast"})
    floor = fields.String(required=True, validate=CODE, metadata={"example": "3F"})
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
    by = fields.String(
        allow_none=True, metadata={"description": "null: another reporter, not shown to you"}
    )
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
    reported_by = fields.String(
        allow_none=True, metadata={"description": "null: another reporter, not shown to you"}
    )
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


class DefectListSchema(PageSchema):
    """A page of tickets."""

    items = fields.List(fields.Nested(DefectSchema), required=True)


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


class RoundQuerySchema(PageArgsSchema):
    """Filters of the round list."""

    zone = fields.String(validate=CODE)
    started_from = api_day("Taipei date, inclusive")
    started_to = api_day("Taipei date, inclusive")
    finished = fields.Boolean()


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


class RoundListSchema(PageSchema):
    """A page of rounds."""

    items = fields.List(fields.Nested(RoundSchema), required=True)


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


CLIENT_ID = fields.String(
    load_default=None,
    validate=validate.Length(max=36),
    metadata={
        "description": "The id the phone made for this record (a UUID): a repeat of the same "
        "id is answered with the earlier record and recorded nothing",
        "example": "6f1c2a8e-3b4d-4c5e-9f60-718293a4b5c6",
    },
)


class RoundCheckCreateSchema(Schema):
    """ "No defect" for one category on one floor of the round."""

    floor = fields.String(required=True, validate=CODE, metadata={"example": "3F"})
    category = fields.String(required=True, validate=CATEGORY, metadata={"example": "corridor"})
    client_id = CLIENT_ID


class RoundCheckSchema(CheckSchema):
    """A recorded check of a round."""

    round_id = fields.Integer()
    client_id = fields.String(allow_none=True)


class FindingCreateSchema(Schema):
    """A finding of the round (multipart form; photos as file parts `photo` and, when fixed on
    the spot, `after_photo`, each repeatable)."""

    floor = fields.String(required=True, validate=CODE, metadata={"example": "3F"})
    category = fields.String(required=True, validate=CATEGORY, metadata={"example": "facility"})
    location = fields.String(load_default="", validate=validate.Length(max=200))
    description = fields.String(required=True, validate=[validate.Length(max=4000), TEXT])
    fixed_on_spot = fields.Boolean(load_default=False)
    fix_note = fields.String(load_default="", validate=validate.Length(max=4000))
    client_id = CLIENT_ID
