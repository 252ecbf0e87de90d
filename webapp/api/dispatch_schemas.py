"""The request and response schemas of the dispatch API (webapp.api.dispatches) and of the
live feed (webapp.api.live_feed)."""

from datetime import date, datetime, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from models.core import clock
from models.dispatch import (
    EARLIER_COUNT_CAP,
    MAX_ETA_MINUTES,
    MAX_TEXT,
    PHONE_RE,
    SCORE_VALUES,
    DispatchState,
    Outcome,
    VisitKind,
    VisitStatus,
)
from webapp.api.convention import PageArgsSchema, PageSchema
from webapp.paging import API_DAY_MESSAGE, validate_day

STATE_VALUES = [s.value for s in DispatchState]
OUTCOME_VALUES = [o.value for o in Outcome]


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
        start, end = query_bounds(data.get("from_"), data.get("to"))
        if start and end and start >= end:
            raise ValidationError("'from' must be before 'to'.", "to")


def query_bounds(start, end) -> tuple[datetime | None, datetime | None]:
    """The [start, end) instants of the from/to query parameters."""
    if isinstance(start, date) and not isinstance(start, datetime):
        start = clock.day_bounds(start)[0]
    if isinstance(end, date) and not isinstance(end, datetime):
        end = clock.day_bounds(end)[1]
    elif isinstance(end, datetime):
        end = end + timedelta(microseconds=1)  # an instant is inclusive
    return start, end
