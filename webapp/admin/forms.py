"""Administration forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
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
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from models.reference import webhooks
from webapp.forms import choices
from webapp.nav import ROLE_LABELS


class UserForm(FlaskForm):
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


class AgencyForm(FlaskForm):
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

    def validate_webhook_url(self, field):
        """Refuse an address the webhook rule forbids, saying why."""
        try:
            webhooks.check_webhook_url(field.data or "")
        except webhooks.AddressRefused as exc:
            raise ValidationError(WEBHOOK_REFUSALS[exc.reason]) from None


class ZoneForm(FlaskForm):
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


class FloorForm(FlaskForm):
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


class TargetForm(FlaskForm):
    """Set a year's on-time target."""

    year = IntegerField(
        _l("Year (Gregorian)"), validators=[DataRequired(), NumberRange(2000, 2100)]
    )
    target = DecimalField(
        _l("On-time target (%)"), places=2, validators=[DataRequired(), NumberRange(0, 100)]
    )
    submit = SubmitField(_l("Save target"))


class SlaForm(FlaskForm):
    """Set the dispatch time limit for future dispatches."""

    minutes = DecimalField(
        _l("Time limit for agencies to arrive (minutes)"),
        places=1,
        validators=[DataRequired(), NumberRange(1, 240)],
    )
    submit = SubmitField(_l("Save time limit"))


class TokenForm(FlaskForm):
    """Issue an API token."""

    username = StringField(_l("For user"), validators=[DataRequired(), Length(max=64)])
    name = StringField(_l("What it is for"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Issue token"))


class DisplayLinkForm(FlaskForm):
    """Make a display link for a wall screen."""

    name = StringField(_l("Screen"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Make display link"))


class ConfirmForm(FlaskForm):
    """A bare form: a button and its CSRF token."""

    submit = SubmitField(_l("Confirm"))
