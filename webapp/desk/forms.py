"""Forms of the service-centre desk and the agency inbox."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from models.dispatch import MAX_ETA_MINUTES, MAX_TEXT, VisitKind
from webapp.desk.labels import KIND_LABELS, STATE_LABELS, TIME_FIELD_LABELS
from webapp.forms import Form, choices
from webapp.labels import OUTCOME_LABELS
from webapp.paging import DayInRange


class VisitForm(Form):
    """Log a walk-in visitor (one quick form, keyboard only)."""

    kind = SelectField(
        _l("Kind"),
        choices=choices((k.value, KIND_LABELS[k]) for k in VisitKind),
        default=VisitKind.PETITION.value,
    )
    subject = StringField(  # the cursor starts here: most visits are petitions
        _l("Subject"),
        validators=[DataRequired(message=_l("Please enter the subject.")), Length(max=200)],
        render_kw={"autofocus": True},
    )
    agency = StringField(
        _l("Agency concerned"),
        validators=[Optional(), Length(max=200)],
        render_kw={"list": "agency-list", "autocomplete": "off"},
    )
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=MAX_TEXT)])
    petitioner_name = StringField(
        _l("Petitioner name"),
        validators=[Optional(), Length(max=100)],
        render_kw={"autocomplete": "off"},
    )
    petitioner_phone = StringField(
        _l("Phone"),
        validators=[Optional(), Length(max=40)],
        render_kw={"type": "tel", "autocomplete": "off", "inputmode": "tel"},
    )
    is_senior = BooleanField(_l("Senior citizen"))
    needs_accessibility = BooleanField(_l("Disability needs"))
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=MAX_TEXT)])
    notify = SubmitField(_l("Notify the agency"))
    settle = SubmitField(_l("Settled at the counter"))
    save = SubmitField(_l("Save, notify later"))


class NotifyForm(Form):
    """Notify an agency for an open visit."""

    agency = StringField(
        _l("Agency"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"list": "agency-list", "autocomplete": "off"},
    )
    submit = SubmitField(_l("Notify the agency"))


class AcknowledgeForm(Form):
    """Name the responder the agency sends."""

    responder = StringField(_l("Who is coming"), validators=[DataRequired(), Length(max=100)])
    eta_minutes = IntegerField(
        _l("Arrives in (minutes, optional)"),
        validators=[Optional(), NumberRange(0, MAX_ETA_MINUTES)],
        render_kw={"inputmode": "numeric", "min": 0, "max": MAX_ETA_MINUTES},
    )
    submit = SubmitField(_l("Acknowledge"))


class CancelForm(Form):
    """End a dispatch with nobody arrived."""

    reason = TextAreaField(
        _l("Reason for cancelling"), validators=[DataRequired(), Length(max=MAX_TEXT)]
    )
    submit = SubmitField(_l("Cancel the dispatch"))


class EndOfDayForm(Form):
    """End of day (日結): end the checked dispatches from earlier days, with one reason."""

    dispatch = SelectMultipleField(_l("Dispatches"), coerce=int, validate_choice=False)
    reason = TextAreaField(
        _l("Why they end with nobody arrived recorded"),
        validators=[DataRequired(), Length(max=MAX_TEXT)],
    )
    submit = SubmitField(_l("Settle the checked dispatches"))


class TransferForm(Form):
    """Send the matter to another agency (a new clock starts)."""

    agency = StringField(
        _l("Transfer to agency"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"list": "agency-list", "autocomplete": "off"},
    )
    reason = StringField(  # its own id: the cancel form on the same page has a reason too
        _l("Reason (optional)"),
        id="transfer-reason",
        validators=[Optional(), Length(max=MAX_TEXT)],
    )
    submit = SubmitField(_l("Transfer"))


class NoteForm(Form):
    """A note while looking after the visitor (代為接待)."""

    text = TextAreaField(_l("Note"), validators=[DataRequired(), Length(max=MAX_TEXT)])
    submit = SubmitField(_l("Add note"))


class ConfirmForm(Form):
    """A button with CSRF protection only."""

    submit = SubmitField(_l("Confirm"))


class CorrectTimeForm(Form):
    """A supervisor corrects a recorded time (Taipei time), with a reason."""

    field = SelectField(_l("Time to correct"), choices=choices(TIME_FIELD_LABELS.items()))
    value = DateTimeLocalField(
        _l("Corrected time (Taipei)"),
        format=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"],
        validators=[DataRequired()],
        render_kw={"step": 1},
    )
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=MAX_TEXT)])
    submit = SubmitField(_l("Correct the time"))


class HistoryFilterForm(Form):
    """Filters of the dispatch history (a GET form)."""

    class Meta:
        csrf = False

    start = DateField(_l("From"), validators=[Optional(), DayInRange()])
    end = DateField(_l("To"), validators=[Optional(), DayInRange()])
    agency = SelectField(_l("Agency"), choices=[], default="")
    state = SelectField(
        _l("State"),
        default="",
        choices=choices(
            [("", _l("Any")), ("open", _l("Open"))]
            + [(state.value, label) for state, label in STATE_LABELS.items()]
        ),
    )
    outcome = SelectField(
        _l("On time or late"),
        default="",
        choices=choices(
            [("", _l("Any"))] + [(o.value, label) for o, label in OUTCOME_LABELS.items()]
        ),
    )


class CareNoteForm(Form):
    """A one-tap care note: the pressed button's `code` (models.dispatch.visitors)."""

    code = StringField(_l("Care note"), validators=[DataRequired(), Length(max=40)])


class RatingForm(Form):
    """The visitor's answer: the pressed button's `score`."""

    score = StringField(_l("Answer"), validators=[DataRequired(), Length(max=20)])
