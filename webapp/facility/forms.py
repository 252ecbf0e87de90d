"""Facility forms: repair reports, ticket moves, rounds, settings and the calendar."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from models.facility import DUE_WORKING_DAYS, ROUND_FREQUENCY_DAYS, SettingRange
from webapp.forms import Form
from webapp.paging import DayInRange

PHOTO_ATTRS = {"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif,image/*"}
# Photos taken where the work is (a round's finding, a repair's after photo): straight from
# the phone's back camera. A repair report keeps the gallery too (the photo may be older).
CAMERA_ATTRS = {"accept": "image/*", "capture": "environment"}


def in_range(setting: SettingRange) -> NumberRange:
    """A validator for a setting's range, as the operation states it (and its message)."""
    return NumberRange(setting.low, setting.high, message=setting.message)


class PhotoField(MultipleFileField):
    """One or more photos from the camera or the gallery."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("render_kw", dict(PHOTO_ATTRS))
        super().__init__(label, **kwargs)


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (big enough to tap)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ReportForm(Form):
    """File a repair report (any signed-in user)."""

    category = RadioField(
        _l("What kind of problem?"),
        validators=[InputRequired(message=_l("Please choose the kind of problem."))],
    )
    zone = SelectField(_l("Zone"), validators=[DataRequired()])
    floor = SelectField(_l("Floor"), validators=[DataRequired()])
    location = StringField(
        _l("Exact location"),
        validators=[Optional(), Length(max=200)],
        render_kw={"placeholder": _l("e.g. next to the east lift, room 305")},
    )
    description = TextAreaField(
        _l("What is wrong?"),
        validators=[DataRequired(message=_l("Please describe the problem.")), Length(max=4000)],
    )
    photos = PhotoField(_l("Photos"))
    duplicate_checked = HiddenField(default="0")
    submit = SubmitField(_l("Send report"))


class AssignForm(Form):
    """Give a ticket to someone (or to yourself)."""

    assignee = SelectField(_l("Assign to"), validators=[DataRequired()])
    submit = SubmitField(_l("Assign"))


class FixForm(Form):
    """Close the repair as fixed: a note and an after photo."""

    note = TextAreaField(
        _l("What was done"),
        validators=[DataRequired(message=_l("Please say what was done.")), Length(max=4000)],
    )
    photos = PhotoField(_l("Photo after the repair"), render_kw=dict(CAMERA_ATTRS))
    submit = SubmitField(_l("Close as fixed"))


class ReopenForm(Form):
    """Send a fixed ticket back to work."""

    reason = TextAreaField(
        _l("Why reopen?"),
        validators=[DataRequired(message=_l("Please say why it is reopened.")), Length(max=2000)],
    )
    submit = SubmitField(_l("Reopen"))


class PhotoForm(Form):
    """Add photos to a ticket."""

    kind = SelectField(_l("Photo of"), validators=[DataRequired()])
    photos = PhotoField(_l("Photos"))
    submit = SubmitField(_l("Add photos"))


class ButtonForm(Form):
    """A single button with its CSRF token (start, verify, finish...)."""

    submit = SubmitField(_l("Confirm"))


class TicketFilterForm(Form):
    """Filters of the ticket list (GET, no CSRF)."""

    class Meta:
        csrf = False

    state = SelectField(_l("State"), validators=[Optional()])
    category = SelectField(_l("Category"), validators=[Optional()])
    zone = SelectField(_l("Zone"), validators=[Optional()])
    floor = SelectField(_l("Floor"), validators=[Optional()])
    assignee = SelectField(_l("Assignee"), validators=[Optional()])
    source = SelectField(_l("Source"), validators=[Optional()])
    found_from = DateField(_l("Found from"), validators=[Optional(), DayInRange()])
    found_to = DateField(_l("Found until"), validators=[Optional(), DayInRange()])
    overdue = BooleanField(_l("Overdue only"))


class StartRoundForm(Form):
    """Start a round: the zone and the floors to walk."""

    zone = SelectField(_l("Zone"), validators=[DataRequired()])
    floors = MultiCheckboxField(_l("Floors to walk"), validators=[DataRequired()])
    submit = SubmitField(_l("Start round"))


class CheckForm(Form):
    """Record "no defect" for one category on one floor."""

    floor = HiddenField(validators=[DataRequired()])
    category = HiddenField(validators=[DataRequired()])


class FindingForm(Form):
    """A finding of a round: a defect, optionally fixed on the spot."""

    location = StringField(_l("Exact location"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(
        _l("What is wrong?"),
        validators=[DataRequired(message=_l("Please describe the problem.")), Length(max=4000)],
    )
    photos = PhotoField(_l("Photos"), render_kw=dict(CAMERA_ATTRS))
    fixed_on_spot = BooleanField(_l("Fixed on the spot"))
    fix_note = TextAreaField(_l("What was done"), validators=[Optional(), Length(max=4000)])
    after_photos = PhotoField(_l("Photo after the repair"), render_kw=dict(CAMERA_ATTRS))
    submit = SubmitField(_l("Save finding"))


class PlanForm(Form):
    """A zone's round frequency."""

    zone = HiddenField(validators=[DataRequired()])
    frequency_days = IntegerField(
        _l("Every (days)"), validators=[InputRequired(), in_range(ROUND_FREQUENCY_DAYS)]
    )
    active = BooleanField(_l("Planned"))
    submit = SubmitField(_l("Save"))


class DueDaysForm(Form):
    """A category's due time in working days."""

    category = HiddenField(validators=[DataRequired()])
    days = IntegerField(
        _l("Working days"), validators=[InputRequired(), in_range(DUE_WORKING_DAYS)]
    )
    submit = SubmitField(_l("Save"))


class CalendarDayForm(Form):
    """Add a day off or a make-up working day."""

    day = DateField(_l("Date"), validators=[DataRequired()])
    working = SelectField(_l("Kind"), validators=[DataRequired()])
    name = StringField(_l("Name of the day"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Save day"))
