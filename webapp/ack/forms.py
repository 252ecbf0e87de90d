"""The acknowledgement link's form."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from webapp.forms import Form


class AckLinkForm(Form):
    """Name who is coming to the counter."""

    responder = StringField(_l("Who is coming"), validators=[DataRequired(), Length(max=100)])
    submit = SubmitField(_l("Acknowledge"))
