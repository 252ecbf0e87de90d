"""Helpers shared by every area's forms."""

from collections.abc import Iterable
from functools import lru_cache

from babel import support
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectChoice, StringField
from wtforms.i18n import messages_path

from models.core import clock
from models.reports import FIRST_YEAR, LAST_YEAR, not_a_year
from webapp.i18n import current_locale, reads_chinese
from webapp.labels import shown_year

# WTForms ships zh (Simplified) and zh_TW (Traditional) catalogues; gettext would map our
# zh_Hant_TW to the Simplified one.
WTFORMS_LOCALES = {"zh_Hant_TW": "zh_TW", "zh_Hant": "zh_TW", "zh_TW": "zh_TW"}


def choices(pairs: Iterable[tuple[str, object]]) -> list[SelectChoice]:
    """SelectField choices from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    return [SelectChoice(value, label) for value, label in pairs]


@lru_cache(maxsize=8)
def wtforms_translations(locale: str):
    """WTForms' own messages ("This field is required.") in the interface language."""
    return support.Translations.load(
        messages_path(), [WTFORMS_LOCALES.get(locale, locale)], domain="wtforms"
    )


class Form(FlaskForm):
    """FlaskForm whose built-in validation messages are in Traditional Chinese (or English)."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            """WTForms' catalogue for the request's language."""
            return wtforms_translations(current_locale())

    def validate(self, extra_validators=None) -> bool:
        """Validate, then say which field a person left empty in words of its own label
        (「請輸入案由。」), where WTForms would say 「此欄位是必需的。」."""
        valid = super().validate(extra_validators)
        for field in self:
            generic = field.gettext(WTFORMS_REQUIRED)
            if generic in field.errors and str(field.label.text).strip():
                field.errors = [
                    required_message(field) if e == generic else e for e in field.errors
                ]
        return valid


WTFORMS_REQUIRED = "This field is required."  # DataRequired's and InputRequired's message
CHOICE_FIELDS = {"SelectField", "RadioField", "SelectMultipleField", "MultiCheckboxField"}


def required_message(field) -> str:
    """The message for an empty required field: 「請選擇樓層。」, 「請輸入案由。」."""
    label = str(field.label.text).strip().rstrip("?？:：")
    if field.type in CHOICE_FIELDS:
        return _("Please choose %(label)s.", label=label)
    return _("Please enter %(label)s.", label=label)


def year_input(year: int) -> str:
    """A year as a year field shows it: 115 in Chinese (ROC), 2026 in English."""
    return str(shown_year(year))


def year_text(year: int) -> str:
    """A year as a sentence writes it: 「115年」 in Chinese, 2026 in English."""
    return f"{clock.roc_year(year)}年" if reads_chinese() else str(year)


class YearField(StringField):
    """A year typed as ROC (115) or Gregorian (2026) — `clock.parse_year`, the one rule — and
    shown back as ROC in Chinese (Gregorian in English); `data` is the Gregorian year."""

    def __init__(self, label=None, validators=None, first=FIRST_YEAR, last=LAST_YEAR, **kwargs):
        render_kw = {"inputmode": "numeric", "autocomplete": "off", "maxlength": 8, "size": 6}
        render_kw.update(kwargs.pop("render_kw", None) or {})
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.first, self.last = first, last

    def process_formdata(self, valuelist):
        """Parse the typed year; a blank leaves no year, a bad one a clear message."""
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        text = str(valuelist[0]).strip()
        try:
            year = clock.parse_year(text)
        except ValueError:
            raise ValueError(not_a_year(text)) from None
        if not self.first <= year <= self.last:
            raise ValueError(
                _(
                    "Type a year from %(first)s to %(last)s.",
                    first=year_text(self.first),
                    last=year_text(self.last),
                )
            )
        self.data = year

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return year_input(self.data)


def field_error(form, message: str, name: str | None = None) -> None:
    """Show an operation's refusal at a field of the form: `name` (the error's own field) if
    the form has it, else the form's first input."""
    if name is None or name not in form:
        name = next(
            f.name for f in form if f.type not in {"CSRFTokenField", "HiddenField", "SubmitField"}
        )
    form[name].errors = [*form[name].errors, message]
