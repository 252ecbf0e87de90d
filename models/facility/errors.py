"""Facility's own domain errors: bad input in a named field, a fix without an after photo."""

from flask_babel import lazy_gettext as _l

from models.core.errors import Conflict, InvalidInput


class FieldError(InvalidInput):
    """Bad input in one named field (pages show the message next to that field)."""

    def __init__(self, message, field: str):
        super().__init__(message)
        self.field = field


class MissingAfterPhoto(Conflict):
    """A fix without an after photo: the ticket has none waiting (the API uploads it first)."""

    def __init__(self):
        super().__init__(_l("Add a photo taken after the repair."))
        self.field = "after_photos"
