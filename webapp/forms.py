"""Helpers shared by every area's forms."""

from collections.abc import Iterable
from functools import lru_cache

from babel import support
from flask_babel import get_locale
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
