"""What every facility page does with its forms the same way: the language, uploads,
the place pickers, and an operation's error shown next to the form field it names."""

from flask_babel import gettext as _

from models import facility as fac
from models.core import db
from models.core.errors import DomainError
from models.photos import PhotoTooLarge, Upload, accepted_types, max_bytes
from webapp.forms import choices
from webapp.i18n import current_locale


def uploads_of(files) -> list[Upload]:
    """A form's files as the operations take them."""
    return [Upload(f.filename, f.stream) for f in files or [] if f and f.filename]


def photo_hint() -> str:
    """Which photos are accepted, and how large."""
    return _(
        "%(types)s, up to %(size)s MB each.",
        types=accepted_types(),
        size=f"{max_bytes() / (1024 * 1024):g}",
    )


def place_choices(form) -> None:
    """Fill the category, zone and floor choices of a report form."""
    locale = current_locale()
    if hasattr(form, "category"):
        form.category.choices = choices((c.code, c.display_name(locale)) for c in fac.categories())
    form.zone.choices = choices(
        [("", _("Choose the zone"))] + [(z.code, z.display_name(locale)) for z in fac.zones()]
    )
    form.floor.choices = choices(
        [("", _("Choose the floor"))] + [(f.code, f.code) for f in fac.floors()]
    )


def field_error(form, exc: DomainError, default: str, **aliases) -> int:
    """Show an operation's error next to the form field it names (else `default`)."""
    db.session.rollback()
    name = getattr(exc, "field", None) or default
    field = getattr(form, aliases.get(name, name), None) or getattr(form, default)
    field.errors = list(field.errors or []) + [exc.message]
    return 413 if isinstance(exc, PhotoTooLarge) else 422  # a form's own input was wrong
