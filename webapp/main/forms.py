"""Language switch form."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField

from webapp.forms import choices


class LanguageForm(FlaskForm):
    """Choose the interface language."""

    lang = SelectField(choices=choices([("zh_Hant_TW", "中文"), ("en", "English")]))
    next = HiddenField()
