"""Why a dispatch was late, over JSON: the reasons in use, and recording one on a late
dispatch (the same operation as the dispatch pages: models.dispatch.late.set_late_reason)."""

from marshmallow import Schema, fields, validate

from models.core import clock, db
from models.dispatch import dispatch_for
from models.dispatch.late import MAX_NOTE, DispatchLateReason, late_reasons, set_late_reason
from webapp.api.convention import ApiBlueprint, acting_user
from webapp.i18n import current_locale

blp = ApiBlueprint(
    "late-reasons",
    __name__,
    path="",
    description="Why a late dispatch was late (內部控制): the reasons, and recording one",
)


class LateReasonSchema(Schema):
    """A reason an agency can give."""

    code = fields.String(required=True, metadata={"description": "Stable code, e.g. away"})
    label = fields.String(required=True, metadata={"description": "In the caller's language"})
    label_zh = fields.String(required=True)
    label_en = fields.String(required=True)


class LateReasonListSchema(Schema):
    """The reasons in use, in the order the pages show them (`other` last)."""

    reasons = fields.List(fields.Nested(LateReasonSchema), required=True)


class LateReasonInSchema(Schema):
    """Why the dispatch was late."""

    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "A code from GET /late-reasons"},
    )
    note = fields.String(
        load_default="",
        validate=validate.Length(max=MAX_NOTE),
        metadata={"description": "Required with the reason `other`"},
    )


class RecordedLateReasonSchema(Schema):
    """The reason now recorded for the dispatch."""

    dispatch_id = fields.Integer(required=True)
    reason = fields.String(required=True)
    label = fields.String(required=True)
    note = fields.String(required=True)
    recorded_at = fields.String(required=True, metadata={"description": "ISO 8601, +08:00"})
    recorded_by = fields.String(allow_none=True)


def _recorded(row: DispatchLateReason) -> dict:
    locale = current_locale()
    by = row.recorded_by
    return {
        "dispatch_id": row.dispatch_id,
        "reason": row.reason.code,
        "label": row.reason.label(locale),
        "note": row.note,
        "recorded_at": clock.local(row.recorded_at).isoformat(),
        "recorded_by": (by.name or by.username) if by is not None else None,
    }


@blp.route("/late-reasons")
@blp.response(200, LateReasonListSchema)
@blp.errors()
def list_reasons():
    """The late reasons in use (any signed-in caller)."""
    locale = current_locale()
    return {
        "reasons": [
            {
                "code": r.code,
                "label": r.label(locale),
                "label_zh": r.label_zh,
                "label_en": r.label_en,
            }
            for r in late_reasons(active_only=True)
        ]
    }


@blp.route("/dispatches/<int:dispatch_id>/late-reason", methods=["POST"])
@blp.arguments(LateReasonInSchema)
@blp.response(200, RecordedLateReasonSchema)
@blp.errors(
    400,
    403,
    404,
    409,
    422,
    notes={
        403: "Only the dispatch's own agency staff and clerks",
        404: "No such dispatch, or another agency's",
        409: "The dispatch is not late (on time, within its deadline, cancelled in time or "
        "transferred)",
        422: "Unknown reason, or `other` without a note",
    },
)
def record(data, dispatch_id: int):
    """Say why a late dispatch was late: one reason and a note. A later call replaces the
    earlier reason; both are in the audit trail."""
    dispatch = dispatch_for(acting_user(), dispatch_id)
    row = set_late_reason(dispatch, data["reason"], data["note"], by=acting_user())
    db.session.commit()
    return _recorded(row)
