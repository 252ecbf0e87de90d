"""Helpers shared by every area's forms."""

from collections.abc import Iterable
from functools import lru_cache

from babel import support
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectChoice
from wtforms.i18n import messages_path

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
            return wtforms_translations(str(get_locale() or "zh_Hant_TW"))

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
