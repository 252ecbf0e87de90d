"""GET /api/v1/reports/yearly: the yearly report as JSON (the same figures as the page and CLI)."""

from flask import Response
from marshmallow import Schema, fields, validate

from models.reports import FIRST_YEAR, LAST_YEAR, REPORT_READER_ROLES, yearly_report
from webapp.api.convention import ApiBlueprint, Year
from webapp.reports.export import to_json
from webapp.security import role_required

blp = ApiBlueprint(
    "reports-api",
    __name__,
    path="/reports",
    description="The yearly compliance report (年度達成率) with the figures behind it",
)


class YearArgs(Schema):
    """Which year."""

    year = Year(
        required=True,
        validate=validate.Range(FIRST_YEAR, LAST_YEAR),
        metadata={"description": "the year (Asia/Taipei calendar), Gregorian or ROC: 2023 or 112"},
    )


class CountsSchema(Schema):
    """Counts of one slice of dispatches (an agency, a month)."""

    counted = fields.Integer(metadata={"description": "on time + late"})
    on_time = fields.Integer()
    late = fields.Integer()
    pending = fields.Integer(metadata={"description": "open within the deadline; not counted"})
    cancelled = fields.Integer(metadata={"description": "cancelled in time; excluded"})
    transferred = fields.Integer(metadata={"description": "transferred; excluded"})
    rate = fields.Float(
        allow_none=True,
        metadata={"description": "on time ÷ counted × 100, half up, 2 decimals; null if none"},
    )


class LateReasonRowSchema(Schema):
    """How many late dispatches gave one reason (`none`: no reason recorded)."""

    code = fields.String(metadata={"description": "away, not_reached, …, other; none"})
    label = fields.String(metadata={"description": "Chinese label"})
    label_en = fields.String()
    count = fields.Integer()


class AgencyRowSchema(CountsSchema):
    """One agency's dispatches."""

    agency = fields.String(metadata={"description": "agency code"})
    name_zh = fields.String()
    name_en = fields.String()
    late_reasons = fields.List(fields.Nested(LateReasonRowSchema))


class MonthRowSchema(CountsSchema):
    """One Taipei month's dispatches."""

    month = fields.Integer()


class MinutesSchema(Schema):
    """Minutes from notice to arrival (or acknowledgement)."""

    count = fields.Integer()
    median = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True)


class ExcludedSchema(Schema):
    """Dispatches excluded from the rate."""

    cancelled = fields.Integer()
    transferred = fields.Integer()


class YearToDateSchema(Schema):
    """For the current year only."""

    as_of = fields.String()
    needed_in_a_row = fields.Integer(
        allow_none=True, metadata={"description": "on-time arrivals in a row to reach the target"}
    )


class AgencyMinutesSchema(MinutesSchema):
    """One serving agency's visitors' whole wait."""

    agency = fields.String(metadata={"description": "agency code"})
    name_zh = fields.String()
    name_en = fields.String()


class WaitMinutesSchema(MinutesSchema):
    """The visitors' whole wait: from logging the visit to the arrival of the responder who
    finally served it (across transfers), for the visits logged in the year; visits nobody
    arrived for are left out. Minutes, one decimal, half up; PERCENTILE.INC."""

    by_agency = fields.List(
        fields.Nested(AgencyMinutesSchema),
        metadata={"description": "per agency that served (its dispatch arrived)"},
    )


class AnswersSchema(Schema):
    """The visitors' answers after the arrival (one per visit)."""

    responses = fields.Integer()
    satisfied = fields.Integer()
    neutral = fields.Integer()
    dissatisfied = fields.Integer()
    share_satisfied = fields.Float(
        allow_none=True,
        metadata={"description": "satisfied ÷ responses × 100, half up, 2 decimals; null if none"},
    )


class AgencyAnswersSchema(AnswersSchema):
    """One serving agency's answers."""

    agency = fields.String(metadata={"description": "agency code"})
    name_zh = fields.String()
    name_en = fields.String()


class SatisfactionSchema(AnswersSchema):
    """The visitors' verdict (質化指標) for the visits logged in the year."""

    by_agency = fields.List(fields.Nested(AgencyAnswersSchema))


class TargetFieldsSchema(Schema):
    """The target in effect for a year and whether a rate met it (report and scorecards)."""

    target = fields.Float(
        allow_none=True,
        metadata={"description": "the target in effect: 85, 87.5; null before any target"},
    )
    target_year = fields.Integer(
        allow_none=True,
        metadata={"description": "the year the target was set for (earlier when carried over)"},
    )
    target_carried = fields.Boolean(
        metadata={
            "description": "true when the year has no target of its own and uses the "
            "latest earlier year's"
        }
    )
    target_met = fields.Boolean(allow_none=True)


class DispatchFiguresSchema(TargetFieldsSchema):
    """The dispatch figures of the year."""

    counted = fields.Integer()
    on_time = fields.Integer()
    late = fields.Integer()
    pending = fields.Integer()
    excluded = fields.Nested(ExcludedSchema)
    total = fields.Integer()
    rate = fields.Float(allow_none=True)
    sla_minutes = fields.Float(allow_none=True)
    year_to_date = fields.Nested(YearToDateSchema, allow_none=True)
    by_agency = fields.List(fields.Nested(AgencyRowSchema))
    by_month = fields.List(fields.Nested(MonthRowSchema))
    minutes_to_arrival = fields.Nested(MinutesSchema)
    minutes_to_acknowledgement = fields.Nested(MinutesSchema)
    wait_minutes = fields.Nested(WaitMinutesSchema)
    late_reasons = fields.List(
        fields.Nested(LateReasonRowSchema),
        metadata={
            "description": "The late dispatches by reason: each reason in use (and any out of "
            "use with late dispatches), then `none` for those with no reason recorded; the "
            "counts add up to `late`"
        },
    )


class DueSchema(Schema):
    """Fixed within the due date."""

    median_working_days_to_fix = fields.Float(allow_none=True)
    within_due = fields.Integer()
    past_due = fields.Integer()
    not_yet_due = fields.Integer()
    share_within_due = fields.Float(allow_none=True)


class CategoryRowSchema(DueSchema):
    """One defect category (all four, in the order corridor, facility, cleanliness,
    ceiling_floor)."""

    category = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    due_working_days = fields.Integer()
    found = fields.Integer()
    fixed = fields.Integer()
    open = fields.Integer()


class ZoneRowSchema(Schema):
    """One zone's defects."""

    zone = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    found = fields.Integer()
    fixed = fields.Integer()
    open = fields.Integer()


class RoundsRowSchema(Schema):
    """Inspection rounds of one zone."""

    zone = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    done = fields.Integer()
    planned = fields.Integer(allow_none=True)
    frequency_days = fields.Integer(allow_none=True)


class DefectsSchema(DueSchema):
    """The defect figures of the year."""

    found = fields.Integer()
    fixed = fields.Integer()
    open = fields.Integer()
    by_category = fields.List(fields.Nested(CategoryRowSchema))
    by_zone = fields.List(fields.Nested(ZoneRowSchema))
    inspection_rounds = fields.List(fields.Nested(RoundsRowSchema))


class FiguresSchema(Schema):
    """One year's figures."""

    year = fields.Integer()
    roc_year = fields.Integer()
    as_of = fields.String(metadata={"description": "when the figures were computed (frozen)"})
    complete = fields.Boolean(metadata={"description": "the year was over at as_of"})
    dispatch = fields.Nested(DispatchFiguresSchema)
    defects = fields.Nested(DefectsSchema)
    satisfaction = fields.Nested(SatisfactionSchema)
    narrative = fields.List(
        fields.String(),
        metadata={"description": "the two sentences, and a third on satisfaction when any"},
    )


class ChangeSchema(Schema):
    """A figure of a closed year that changed after it was closed."""

    figure = fields.String()
    frozen = fields.Raw(allow_none=True)
    current = fields.Raw(allow_none=True)


class PeriodSchema(Schema):
    """Whether the year is closed and what changed since."""

    closed = fields.Boolean()
    closed_at = fields.String(allow_none=True)
    closed_by = fields.String(allow_none=True)
    restatement = fields.List(fields.Nested(ChangeSchema))
    current_narrative = fields.List(fields.String())


class YearlyReportSchema(FiguresSchema):
    """The yearly report: frozen figures when the year is closed, the previous year beside."""

    previous_year = fields.Nested(FiguresSchema, allow_none=True)
    period = fields.Nested(PeriodSchema)


@blp.route("/yearly")
@role_required(*REPORT_READER_ROLES)
@blp.arguments(YearArgs, location="query", as_kwargs=True)
@blp.response(200, YearlyReportSchema)
@blp.errors(
    403,
    422,
    notes={
        403: "Only clerks, supervisors and admins",
        422: "No or a bad year, or a year that has not started",
    },
)
def yearly(year: int):
    """The yearly report of one Asia/Taipei calendar year.

    Rates are half-up percentages with two decimals, null when nothing was counted.
    """
    return Response(to_json(yearly_report(year), indent=None), mimetype="application/json")
