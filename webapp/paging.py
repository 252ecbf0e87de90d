"""The one reading of a list's `?page=` and of a date filter's range, for every list page and
API list alike: a page number is clamped (never an error, never a huge OFFSET), a date outside
the days records can lie on (`clock.FIRST_DAY`..`clock.LAST_DAY`) is refused with a message."""

from datetime import date, datetime

from flask import request
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination, SelectPagination
from marshmallow import ValidationError, fields
from wtforms.validators import ValidationError as FormError

from models.core import clock, db
from models.core.text import MAX_ID

MAX_PAGE = MAX_ID  # the API's `page` goes up to this too (PageArgsSchema)


def requested_page() -> int:
    """`?page=` as a page number: 1 when missing, not a number or below 1; at most MAX_PAGE."""
    text = request.args.get("page", "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1  # missing, negative or not a number
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE  # int() of a 5000-digit string would raise
    return min(max(int(text), 1), MAX_PAGE)


class RowPagination(SelectPagination):
    """A select()'s page of whole rows (every column), where db.paginate gives the first's."""

    def _query_items(self) -> list:
        select = self._query_args["select"].limit(self.per_page).offset(self._query_offset)
        return list(self._query_args["session"].execute(select).all())


class ListPagination(Pagination):
    """A page of a list already read (ids in their order, say)."""

    def _query_items(self) -> list:
        start = self._query_offset
        return list(self._query_args["items"][start : start + self.per_page])

    def _query_count(self) -> int:
        return len(self._query_args["items"])


def paginate(source, per_page: int, *, rows: bool = False):
    """The requested page of the select() `source` (its first column's objects, or whole rows
    with `rows=True`) or of a list; the last page when asked past the end."""

    def page_of(number: int):
        if isinstance(source, list | tuple):
            return ListPagination(number, per_page, None, False, items=source)
        if rows:
            return RowPagination(number, per_page, None, False, select=source, session=db.session())
        return db.paginate(source, page=number, per_page=per_page, error_out=False)

    found = page_of(requested_page())
    if found.page > found.pages > 0:
        found = page_of(found.pages)
    return found


def _day_message() -> str:
    return _l(
        "Pick a date between %(first)s and %(last)s.",
        first=clock.FIRST_DAY.isoformat(),
        last=clock.LAST_DAY.isoformat(),
    )


def day_in_range(day: date | datetime | None) -> bool:
    """Whether `day` (a date, or an instant's Taipei day) lies where records can lie."""
    if day is None:
        return True
    if isinstance(day, datetime):
        day = clock.local(day).date() if day.tzinfo else day.date()
    return clock.FIRST_DAY <= day <= clock.LAST_DAY


class DayInRange:
    """WTForms validator: a date filter's day lies where records can lie."""

    def __call__(self, form, field):
        if not day_in_range(field.data):
            raise FormError(str(_day_message()))


# The API's words (its messages are English); the pages' are translated (_day_message).
API_DAY_MESSAGE = (
    f"Pick a date between {clock.FIRST_DAY.isoformat()} and {clock.LAST_DAY.isoformat()}."
)


def validate_day(day) -> None:
    """Marshmallow validator: a date filter's day lies where records can lie (else 422)."""
    if not day_in_range(day):
        raise ValidationError(API_DAY_MESSAGE)


# The same range in the OpenAPI document (a date field has no minimum there): years 1990-2200.
API_DAY_PATTERN = r"^(199[0-9]|2[01][0-9][0-9]|2200)-[0-9]{2}-[0-9]{2}$"


def api_day(description: str) -> fields.Date:
    """An API date filter: a Taipei day from FIRST_DAY to LAST_DAY, documented so."""
    return fields.Date(
        validate=validate_day, metadata={"description": description, "pattern": API_DAY_PATTERN}
    )
