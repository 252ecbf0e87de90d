"""Facility's in-app notices: the title in both languages and the ticket they point to."""

from flask_babel import force_locale
from flask_babel import gettext as _

from models.core import outbox
from models.core.notices import ticket_path
from models.facility.tables import Defect
from models.users import User


def N_(message: str) -> str:
    """Mark a message for translation; it is translated later, once per language."""
    return message


def _localized(value, locale: str):
    if isinstance(value, Defect):
        return value.place(locale)
    if hasattr(value, "display_name"):
        return value.display_name(locale)
    return value


def notice_text(message: str, **params) -> dict[str, str]:
    """A notice's title in Chinese and English (names of places and categories too)."""
    texts = {}
    for key, locale in (("title", "zh_Hant_TW"), ("title_en", "en")):
        with force_locale(locale):
            texts[key] = _(message, **{k: _localized(v, locale) for k, v in params.items()})
    return texts


def notify(user: User, event_key: str, kind: str, defect: Defect, message: str, **params):
    """Queue an in-app notice about a ticket for `user` (once per event key and recipient)."""
    payload = {
        **notice_text(message, **params),
        "path": ticket_path(defect.id),
        "defect_id": defect.id,
        "state": defect.state,
    }
    return outbox.enqueue(
        event_key,
        kind,
        outbox.Channel.IN_APP,
        f"user:{user.id}",
        payload,
        user_id=user.id,
        defect_id=defect.id,
    )
