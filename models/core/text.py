"""Text and id rules shared by every area: what text may be stored, which ids can exist.

One rule for text everywhere (forms, API, import, demo): characters no database column can
hold (NUL, lone surrogates) are refused with a message naming the field, never stripped.
"""

from flask_babel import gettext as _

from models.core.errors import InvalidInput

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL

# The two languages: Traditional Chinese (the default) and English.
CHINESE = "zh_Hant_TW"
ENGLISH = "en"


def N_(message: str) -> str:
    """Mark a message for the catalogue; it is translated later (by in_each_language)."""
    return message


def in_each_language(message: str, **params) -> tuple[str, str]:
    """`message` (an English msgid of the catalogue) in Chinese and in English, as (zh, en),
    for what is written once for readers of both (e-mails, notices); a parameter with
    `display_name(locale)` (an agency, a zone...) is named in each language."""
    from flask_babel import force_locale

    texts = []
    for locale in (CHINESE, ENGLISH):
        with force_locale(locale):
            values = {
                key: value.display_name(locale) if hasattr(value, "display_name") else value
                for key, value in params.items()
            }
            texts.append(_(message, **values))
    return texts[0], texts[1]


def reads_english(locale) -> bool:
    """Does a reader of `locale` read English? Only an en… locale does; any other (a zh one,
    None, "") reads Chinese, the default. The one rule for "zh or en" of a locale."""
    return str(locale or "").startswith("en")


def is_storable(value: str) -> bool:
    """True when every character of `value` can be stored (no NUL, no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def storable(value: str, label: str) -> str:
    """`value` unchanged, or InvalidInput naming `label` when it cannot be stored."""
    if not is_storable(value):
        raise InvalidInput(_("%(field)s contains characters that are not allowed.", field=label))
    return value


def clean_text(text: str | None, label: str, *, limit: int, required: bool = False) -> str:
    """Trimmed, storable text of at most `limit` characters (required: not empty)."""
    value = storable((text or "").strip(), label)
    if required and not value:
        raise InvalidInput(_("%(field)s is required.", field=label))
    if len(value) > limit:
        raise InvalidInput(
            _("%(field)s is too long (at most %(limit)d characters).", field=label, limit=limit)
        )
    return value


def is_valid_id(value) -> bool:
    """True when `value` is an id a row can have (a positive 32-bit integer)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get_by_id(model, row_id):
    """A row by primary key; None for a missing row or an id no row can have."""
    from models.core import db

    return db.session.get(model, row_id) if is_valid_id(row_id) else None
