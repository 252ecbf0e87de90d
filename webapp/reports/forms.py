"""Report and import forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, SelectField, SubmitField
from wtforms.validators import DataRequired, Regexp

from webapp.forms import Form, YearField, choices


class YearPickForm(Form):
    """The year picker of the report and scorecard pages (a GET form): ROC or Gregorian."""

    class Meta:
        csrf = False

    year = YearField(_l("Year"))


class CloseYearForm(Form):
    """Close a year: freeze its figures."""

    submit = SubmitField(_l("Close the year and freeze its figures"))


KIND_CHOICES = [("dispatches", _l("Dispatches")), ("defects", _l("Defects"))]


class UploadForm(Form):
    """Upload a CSV of past records to check."""

    kind = SelectField(_l("Records"), choices=choices(KIND_CHOICES))
    file = FileField(
        _l("CSV file (UTF-8)"),
        validators=[
            FileRequired(_l("Choose a CSV file.")),
            FileAllowed(["csv", "txt"], _l("Upload a .csv file.")),
        ],
    )
    submit = SubmitField(_l("Check the file"))


class ConfirmImportForm(Form):
    """Import a checked file."""

    token = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{32}$")])
    submit = SubmitField(_l("Import"))
