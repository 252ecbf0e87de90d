"""Administration forms."""

from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from models.dispatch import ladder
from models.dispatch.ladder import Rungs
from models.reference import bad_emails, sla_seconds, webhooks
from webapp.forms import Form, YearField, choices
from webapp.nav import ROLE_LABELS


class UserForm(Form):
    """Add or edit a user."""

    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Regexp(r"^[A-Za-z0-9_.@-]{2,64}$", message=_l("2-64 letters, digits or . _ @ -")),
        ],
    )
    name = StringField(_l("Name"), validators=[Optional(), Length(max=100)])
    email = EmailField(
        _l("E-mail"), validators=[Optional(), Email(check_deliverability=False), Length(max=200)]
    )
    role = SelectField(
        _l("Role"), choices=choices((r.value, label) for r, label in ROLE_LABELS.items())
    )
    agency = SelectField(_l("Agency (agency staff only)"), choices=[], validate_choice=True)
    password = PasswordField(
        _l("Password"),
        validators=[Optional(), Length(max=200)],  # strength: models.users.password_problem
        render_kw={"autocomplete": "new-password"},
    )
    locale = SelectField(
        _l("Language"), choices=choices([("", "—"), ("zh_Hant_TW", "中文"), ("en", "English")])
    )
    receives_escalations = BooleanField(_l("Receives escalations (service-centre chief)"))
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))


WEBHOOK_REFUSALS = {  # why an agency's webhook URL is refused, in the reader's language
    webhooks.METADATA: _l("This is the cloud metadata address; a webhook may not point there."),
    webhooks.UNSPECIFIED: _l("An unspecified address (0.0.0.0 or ::) cannot receive webhooks."),
    webhooks.LOOPBACK: _l(
        "This address is the CityDesk server itself (loopback); a webhook may not point there."
    ),
    webhooks.LINK_LOCAL: _l("Link-local addresses (169.254.x.x, fe80::) are not allowed."),
    webhooks.MULTICAST: _l("A multicast address cannot receive webhooks."),
    webhooks.PRIVATE: _l("Private network addresses are turned off for webhooks on this server."),
    webhooks.NOT_HTTP: _l("Enter an http:// or https:// address."),
}


class AgencyForm(Form):
    """Add or edit an agency."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(r"^[a-z0-9][a-z0-9-]{1,63}$", message=_l("Lower-case letters, digits and -")),
        ],
    )
    name_zh = StringField(_l("Chinese name"), validators=[DataRequired(), Length(max=100)])
    name_en = StringField(_l("English name"), validators=[DataRequired(), Length(max=200)])
    has_desk = BooleanField(_l("Keeps a desk in the service centre"))
    extension = StringField(_l("Phone extension"), validators=[Optional(), Length(max=40)])
    emails = TextAreaField(
        _l("Notice e-mail addresses (one per line)"), validators=[Optional(), Length(max=2000)]
    )
    webhook_url = StringField(
        _l("Webhook URL"), validators=[Optional(), URL(require_tld=False), Length(max=500)]
    )
    webhook_secret = StringField(
        _l("Webhook signing secret"), validators=[Optional(), Length(max=200)]
    )
    sort_order = IntegerField(
        _l("Sort order"), default=100, validators=[Optional(), NumberRange(0, 10000)]
    )
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def validate_emails(self, field):
        """Each address checked on its own; every bad one named, with its place in the list."""
        messages = [
            _(
                "Address %(place)d, %(address)s, is not an e-mail address.",
                place=place,
                address=address,
            )
            for place, address in bad_emails(field.data)
        ]
        if messages:
            field.errors.extend(messages[:-1])
            raise ValidationError(messages[-1])

    def validate_webhook_url(self, field):
        """Refuse an address the webhook rule forbids, saying why."""
        try:
            webhooks.check_webhook_url(field.data or "")
        except webhooks.AddressRefused as exc:
            raise ValidationError(WEBHOOK_REFUSALS[exc.reason]) from None


class ZoneForm(Form):
    """Add or edit a zone."""

    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(r"^[a-z0-9][a-z0-9-]{1,39}$", message=_l("Lower-case letters, digits and -")),
        ],
    )
    name_zh = StringField(_l("Chinese name"), validators=[DataRequired(), Length(max=50)])
    name_en = StringField(_l("English name"), validators=[DataRequired(), Length(max=100)])
    sort_order = IntegerField(
        _l("Sort order"), default=100, validators=[Optional(), NumberRange(0, 10000)]
    )
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))


class FloorForm(Form):
    """Add a floor."""

    code = StringField(
        _l("Floor"),
        validators=[
            DataRequired(),
            Regexp(r"^(B\d{1,2}|\d{1,3}F|RF)$", message=_l("Like B2, 1F or 12F")),
        ],
    )
    sort_order = IntegerField(
        _l("Sort order"), default=100, validators=[Optional(), NumberRange(0, 10000)]
    )
    submit = SubmitField(_l("Add floor"))


class TargetForm(Form):
    """Set a year's on-time target."""

    year = YearField(_l("Year (ROC or Gregorian)"), validators=[InputRequired()])
    target = DecimalField(
        _l("On-time target (%)"), places=2, validators=[DataRequired(), NumberRange(0, 100)]
    )
    submit = SubmitField(_l("Save target"))


class SlaForm(Form):
    """Set the dispatch time limit for future dispatches."""

    minutes = DecimalField(
        _l("Time limit for agencies to arrive (minutes)"),
        places=1,
        validators=[DataRequired(), NumberRange(1, 240)],
    )
    submit = SubmitField(_l("Save time limit"))


class TokenForm(Form):
    """Issue an API token."""

    username = StringField(_l("For user"), validators=[DataRequired(), Length(max=64)])
    name = StringField(_l("What it is for"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Issue token"))


class DisplayLinkForm(Form):
    """Make a display link for a wall screen."""

    name = StringField(_l("Screen"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Make display link"))


class ConfirmForm(Form):
    """A bare form: a button and its CSRF token."""

    submit = SubmitField(_l("Confirm"))


# --- the escalation ladder (issue 13) ---------------------------------------------------------

LADDER_FIELDS = {  # models.dispatch.ladder.problems() keys → the form's fields
    "reminder_before": "reminder_minutes",
    "repeat_every": "repeat_minutes",
    "chief_after": "chief_minutes",
}


def _seconds(minutes_value) -> int | None:
    """Minutes as typed → whole seconds (None stays None: the rung is off)."""
    if minutes_value is None:
        return None
    return int((Decimal(minutes_value) * 60).to_integral_value(ROUND_HALF_UP))


class LadderForm(Form):
    """The default escalation ladder, in minutes; an empty field turns its rung off. The
    allowed values are the domain's (models.dispatch.ladder.problems)."""

    reminder_minutes = DecimalField(
        _l("Remind the agency (minutes before the deadline)"),
        places=None,
        validators=[Optional()],
        render_kw={"inputmode": "decimal", "min": "0.5"},
    )
    repeat_minutes = IntegerField(
        _l("Repeat the reminder every (minutes)"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "min": "1"},
    )
    breach_to_supervisors = BooleanField(_l("Also tell the supervisors when the deadline passes"))
    chief_minutes = DecimalField(
        _l("Tell the chief (minutes after the deadline)"),
        places=None,
        validators=[Optional()],
        render_kw={"inputmode": "decimal", "min": "0.5"},
    )
    submit = SubmitField(_l("Save the default ladder"))

    def rungs(self) -> Rungs:
        """The values entered, in seconds."""
        return Rungs(
            reminder_before=_seconds(self.reminder_minutes.data),
            repeat_every=_seconds(self.repeat_minutes.data),
            breach_to_supervisors=bool(self.breach_to_supervisors.data),
            chief_after=_seconds(self.chief_minutes.data),
        )

    def fill(self, rungs: Rungs) -> None:
        """Show a ladder's values (in minutes)."""
        as_minutes = ladder.minutes
        before, repeat, chief = rungs.reminder_before, rungs.repeat_every, rungs.chief_after
        self.reminder_minutes.data = None if before is None else Decimal(as_minutes(before))
        self.repeat_minutes.data = None if repeat is None else repeat // 60
        self.breach_to_supervisors.data = rungs.breach_to_supervisors
        self.chief_minutes.data = None if chief is None else Decimal(as_minutes(chief))

    def validate(self, extra_validators=None) -> bool:
        """The fields' types, then the ladder's rules as errors on their fields."""
        if not super().validate(extra_validators):
            return False
        for minutes_field in (self.reminder_minutes, self.chief_minutes):
            if minutes_field.data is not None and not minutes_field.data.is_finite():
                minutes_field.errors.append(_l("Enter a number of minutes."))
                return False
        found = ladder.problems(self.rungs(), sla_seconds=sla_seconds())
        for name, message in found.items():
            getattr(self, LADDER_FIELDS[name]).errors.append(message)
        return not found


class OverrideForm(LadderForm):
    """One agency's own escalation ladder."""

    agency = SelectField(
        _l("Agency"), choices=[], validate_choice=True, validators=[DataRequired()]
    )
    submit = SubmitField(_l("Save the agency's ladder"))
