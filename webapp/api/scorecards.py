"""GET /api/v1/agencies/{code}/scorecard: an agency's standing (the same as /agency/scorecard)."""

from marshmallow import Schema, fields, validate

from models.core import clock
from models.reports import FIRST_YEAR, LAST_YEAR
from models.reports.access import SCORECARD_ROLES, scorecard_agency
from models.reports.scorecard import scorecard
from webapp.api.convention import ApiBlueprint, Year, acting_user
from webapp.api.reports import LateReasonRowSchema, MonthRowSchema, TargetFieldsSchema
from webapp.security import role_required

blp = ApiBlueprint(
    "scorecards",
    __name__,
    path="/agencies",
    description="Agency scorecards: each agency's on-time rate against the year's target",
)


class ScorecardArgs(Schema):
    """Which year (default: this Taipei year)."""

    year = Year(
        validate=validate.Range(FIRST_YEAR, LAST_YEAR),
        metadata={"description": "the year (Asia/Taipei calendar), Gregorian or ROC: 2024 or 113"},
    )


class ScorecardMonthSchema(MonthRowSchema):
    """One Taipei month of the agency, with the rate of the year up to its end."""

    year_to_date_rate = fields.Float(allow_none=True)


class GivenReasonSchema(Schema):
    """The reason recorded for a late dispatch."""

    code = fields.String()
    label = fields.String(metadata={"description": "Chinese label"})
    label_en = fields.String()
    note = fields.String()
    recorded_at = fields.String()


class LateDispatchSchema(Schema):
    """One late dispatch of the agency, newest first (no petitioner data)."""

    id = fields.Integer()
    reference = fields.String(allow_none=True)
    agency = fields.String()
    agency_name = fields.String()
    agency_name_en = fields.String()
    state = fields.String()
    notified_at = fields.String()
    deadline_at = fields.String()
    arrived_at = fields.String(allow_none=True)
    minutes_to_arrival = fields.Float(allow_none=True)
    reason = fields.Nested(GivenReasonSchema, allow_none=True)


class ScorecardSchema(TargetFieldsSchema):
    """An agency's standing in a year (the yearly report's rules, for one agency)."""

    agency = fields.String(metadata={"description": "agency code"})
    name_zh = fields.String()
    name_en = fields.String()
    year = fields.Integer()
    roc_year = fields.Integer()
    as_of = fields.String()
    complete = fields.Boolean(metadata={"description": "the year was over at as_of"})
    counted = fields.Integer()
    on_time = fields.Integer()
    late = fields.Integer()
    pending = fields.Integer()
    cancelled = fields.Integer()
    transferred = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "half up, 2 decimals"})
    needed_in_a_row = fields.Integer(
        allow_none=True,
        metadata={
            "description": "on-time arrivals in a row that bring the rate to the target (0: met); "
            "null when there is no target, it cannot be reached, or the year is over"
        },
    )
    by_month = fields.List(fields.Nested(ScorecardMonthSchema))
    late_reasons = fields.List(fields.Nested(LateReasonRowSchema))
    late_dispatches = fields.List(fields.Nested(LateDispatchSchema))


@blp.route("/<code>/scorecard")
@role_required(*SCORECARD_ROLES)
@blp.arguments(ScorecardArgs, location="query", as_kwargs=True)
@blp.response(200, ScorecardSchema)
@blp.errors(
    403,
    404,
    422,
    notes={
        403: "Only agency staff (their own agency) and those who read the yearly report",
        404: "No such agency, or (for agency staff) another agency",
        422: "A bad year, or a year that has not started",
    },
)
def agency_scorecard(code: str, year: int | None = None):
    """An agency's scorecard: counted, on time, late, rate, the year's target, met or not, the
    on-time arrivals needed in a row, month by month, and its late dispatches with reasons."""
    agency = scorecard_agency(acting_user(), code)
    return scorecard(agency, year or clock.taipei_year(clock.now()))
