"""Language switch form."""

from wtforms import HiddenField, SelectField

from webapp.forms import Form, choices


class LanguageForm(Form):
    """Choose the interface language."""

    lang = SelectField(choices=choices([("zh_Hant_TW", "中文"), ("en", "English")]))
    next = HiddenField()
