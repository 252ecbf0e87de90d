"""The API convention every /api/v1 module follows, written once here.

- `ApiBlueprint`: a flask-smorest Blueprint mounted at /api/v1 + `path`, whose `errors(...)`
  decorator documents an endpoint's error responses, all with the one error body
  (`ApiErrorSchema`: `{"error", "message", "fields"?}`, built by `webapp.errors.json_error`).
  Domain errors (Forbidden, NotFound, Conflict, InvalidInput) become these responses in the one
  handler of `webapp.errors`; views do not check ahead what the operation checks.
- `PageArgsSchema`, `PageSchema`, `page_of`: the one pagination shape, `?page=&per_page=` in,
  `{"items", "total", "page", "per_page"}` out.
- `Year`: a year parameter typed as ROC (112) or Gregorian (2023), `clock.parse_year`'s rule.
- `acting_user()`: the user behind the request (a session or a bearer token), the same
  helper the pages use (`webapp.security`).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, select

from models.core import clock, db
from models.reports import not_a_year
from webapp.extensions import ApiErrorSchema
from webapp.paging import MAX_PAGE
from webapp.security import acting_user

__all__ = [
    "MAX_PER_PAGE",
    "ApiBlueprint",
    "ApiErrorSchema",
    "Page",
    "PageArgsSchema",
    "PageSchema",
    "Year",
    "acting_user",
    "page_of",
    "unpaged",
]

PER_PAGE = 50


class Year(fields.Integer):
    """A year given as ROC (112) or Gregorian (2023); the Gregorian year comes out."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return clock.parse_year(value)
        except ValueError:
            raise ValidationError(not_a_year(value)) from None


MAX_PER_PAGE = 200

# What each error status means anywhere in the API; an endpoint may say more (`notes`).
ERROR_DESCRIPTIONS = {
    400: "The body is not valid JSON, or a session call lacks its CSRF token",
    401: "Not signed in, or the bearer token is invalid or revoked",
    403: "The caller's role does not allow this",
    404: "No such record, or not one the caller can see",
    409: "The record is not in a state that allows this",
    413: "The upload is larger than allowed",
    422: "Invalid input (see `fields`)",
}


class ApiBlueprint(Blueprint):
    """A flask-smorest Blueprint of the JSON API, mounted at /api/v1 + `path`."""

    def __init__(self, name: str, import_name: str, *, path: str, description: str):
        super().__init__(name, import_name, description=description)
        self.url_prefix_suffix = path

    def errors(self, *statuses: int, notes: dict[int, str] | None = None):
        """Document an endpoint's error responses (401 always), each with the one error body;
        `notes` words a status for this endpoint."""
        notes = notes or {}

        def decorate(view):
            for status in sorted({401, *statuses}, reverse=True):
                description = notes.get(status) or ERROR_DESCRIPTIONS.get(status)
                view = self.alt_response(
                    status,
                    schema=ApiErrorSchema,
                    description=description or HTTPStatus(status).phrase,
                )(view)
            return view

        return decorate


# --- pagination ---------------------------------------------------------------------------


class PageArgsSchema(Schema):
    """Which page of a list: `page` from 1 (at most MAX_PAGE), `per_page` items on it."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(
        load_default=PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE)
    )


class PageSchema(Schema):
    """A page of a list; a subclass adds `items`, a list of its records."""

    total = fields.Integer(
        required=True, metadata={"description": "How many records match (all pages)"}
    )
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


@dataclass
class Page:
    """One page of a query's rows, with the total over all pages."""

    rows: list
    total: int
    page: int
    per_page: int

    def body(self, items: Iterable) -> dict:
        """The JSON of this page with `items` (the rows as the API shows them)."""
        return {
            "items": list(items),
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
        }


def page_of(stmt, args: dict) -> Page:
    """The page `args["page"]` (`args["per_page"]` rows) of the select() `stmt`."""
    page, per_page = args["page"], args["per_page"]
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    first = (page - 1) * per_page
    if first >= total:
        return Page([], total, page, per_page)  # past the end: no huge OFFSET sent
    rows = list(db.session.scalars(stmt.offset(first).limit(per_page)))
    return Page(rows, total, page, per_page)


def unpaged(args: dict) -> dict:
    """The query arguments other than `page` and `per_page` (the filters)."""
    return {key: value for key, value in args.items() if key not in PageArgsSchema().fields}
